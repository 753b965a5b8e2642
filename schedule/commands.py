"""The schedule's commands, run by ``Engine.run`` in one transaction each, like the engine's own.

Each follows the engine's order: validate, load, ask the policy (``ctx.authorize``), change, record, return.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine import CommandContext, Conflict, CorrelateMessage, InvalidInput, NotFound, StartInstance
from engine.states import EventType, InstanceStatus
from engine.views import InstanceFacts, InstanceView, ProcessFacts
from schedule.lead_time import check_window
from schedule.models import (
    BlackoutWindow,
    CalendarToken,
    Criticality,
    EntryState,
    ScheduleEntry,
    SchedulePolicy,
    Service,
)
from schedule.process_services import OPEN, check_release_delivery, parse_moment, waits_for_release
from schedule.store import ScheduleStore
from schedule.windows import window_problems

NAME_LIMIT = 100
CATALOG = ProcessFacts("schedule", "change")  # what catalog commands show the policy: change owns the catalog
RELEASE_WINDOW = timedelta(hours=1)  # a release's window when its changes give none


def _name(value: str, field_name: str = "name") -> str:
    name = (value or "").strip()
    if not name or len(name) > NAME_LIMIT:
        raise InvalidInput("Invalid name.", errors={field_name: [f"Give 1 to {NAME_LIMIT} characters."]})
    return name


def _criticality(value: str) -> Criticality:
    try:
        return Criticality(value)
    except ValueError:
        raise InvalidInput("Invalid criticality.", errors={"criticality": [
            f"Use one of: {', '.join(c.value for c in Criticality)}."]}) from None


def _windows(value: object) -> list[Any]:
    problems = window_problems(value)
    if problems:
        raise InvalidInput("Invalid maintenance windows.", errors={"maintenance_windows": problems})
    assert isinstance(value, list)
    return [dict(window) for window in value]


# -- the catalog ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateService:
    """Add a service to the catalog, with its owning practice, criticality and weekly maintenance windows."""

    name: str
    practice: str = "change"
    criticality: str = "medium"
    maintenance_windows: Sequence[Mapping[str, Any]] = ()

    def execute(self, ctx: CommandContext) -> Service:
        name = _name(self.name)
        criticality, windows = _criticality(self.criticality), _windows(list(self.maintenance_windows))
        ctx.authorize(CATALOG)
        store = ScheduleStore(ctx.session)
        if store.service(name) is not None:
            raise InvalidInput(f"The catalog already has a service '{name}'.",
                               errors={"name": ["Choose a name no service has."]})
        row = Service(name=name, practice=_name(self.practice, "practice"), criticality=criticality,
                      maintenance_windows=windows, created_at=ctx.now, updated_at=ctx.now)
        store.add(row)
        return row


@dataclass(frozen=True)
class UpdateService:
    """Change a service's practice, criticality or maintenance windows (None: keep)."""

    name: str
    practice: str | None = None
    criticality: str | None = None
    maintenance_windows: Sequence[Mapping[str, Any]] | None = None

    def execute(self, ctx: CommandContext) -> Service:
        ctx.authorize(CATALOG)
        row = ScheduleStore(ctx.session).service(self.name, lock=True)
        if row is None:
            raise NotFound(f"There is no service '{self.name}' in the catalog.")
        if self.practice is not None:
            row.practice = _name(self.practice, "practice")
        if self.criticality is not None:
            row.criticality = _criticality(self.criticality)
        if self.maintenance_windows is not None:
            row.maintenance_windows = _windows(list(self.maintenance_windows))
        row.updated_at = ctx.now
        ctx.session.flush()
        return row


@dataclass(frozen=True)
class DeleteService:
    """Take a service out of the catalog; changes already raised keep its name."""

    name: str

    def execute(self, ctx: CommandContext) -> None:
        ctx.authorize(CATALOG)
        store = ScheduleStore(ctx.session)
        row = store.service(self.name, lock=True)
        if row is None:
            raise NotFound(f"There is no service '{self.name}' in the catalog.")
        store.delete(row)


# -- blackouts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateBlackout:
    """Declare a freeze, for one service or (``service`` None) for all, with the reason people will read."""

    starts_at: datetime
    ends_at: datetime
    reason: str
    service: str | None = None

    def execute(self, ctx: CommandContext) -> BlackoutWindow:
        errors: dict[str, list[str]] = {}
        reason = (self.reason or "").strip()
        if not reason:
            errors["reason"] = ["Say why changes are frozen."]
        if self.ends_at <= self.starts_at:
            errors["ends_at"] = ["The end must come after the start."]
        if errors:
            raise InvalidInput("Invalid blackout window.", errors=errors)
        ctx.authorize(CATALOG)
        store = ScheduleStore(ctx.session)
        if self.service is not None and store.service(self.service) is None:
            raise InvalidInput(f"There is no service '{self.service}' in the catalog.",
                               errors={"service": ["Name a service of the catalog, or none for all services."]})
        row = BlackoutWindow(service=self.service, starts_at=self.starts_at, ends_at=self.ends_at,
                             reason=reason[:2000], created_by=ctx.actor, created_at=ctx.now)
        store.add(row)
        return row


@dataclass(frozen=True)
class DeleteBlackout:
    """Lift a freeze."""

    blackout_id: int

    def execute(self, ctx: CommandContext) -> None:
        ctx.authorize(CATALOG)
        store = ScheduleStore(ctx.session)
        row = store.blackout(self.blackout_id)
        if row is None:
            raise NotFound(f"There is no blackout {self.blackout_id}.")
        store.delete(row)


# -- lead time ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetSchedulePolicy:
    """Set the lead time of a change model (hours its planned start must be ahead); ``exempt``: no time rules."""

    process_key: str
    lead_time_hours: int
    exempt: bool = False

    def execute(self, ctx: CommandContext) -> SchedulePolicy:
        if not 0 <= self.lead_time_hours <= 24 * 90:
            raise InvalidInput("Invalid lead time.", errors={"lead_time_hours": ["Use 0 to 2160 hours."]})
        model, _version = ctx.store.model_and_version(self.process_key, None)
        if model is None:
            raise NotFound(f"There is no process '{self.process_key}'.")
        ctx.authorize(ProcessFacts(model.key, model.practice))
        store = ScheduleStore(ctx.session)
        row = store.policy(self.process_key, lock=True)
        if row is None:
            row = SchedulePolicy(process_key=self.process_key)
            ctx.session.add(row)
        row.lead_time_hours, row.exempt = self.lead_time_hours, self.exempt
        row.updated_by, row.updated_at = ctx.actor, ctx.now
        ctx.session.flush()
        return row


# -- calendar feeds -------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    """What the database keeps of a calendar token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssueCalendarToken:
    """A secret feed address for the caller: their own changes, or one service's schedule."""

    service: str | None = None

    def execute(self, ctx: CommandContext) -> tuple[CalendarToken, str]:
        store = ScheduleStore(ctx.session)
        if self.service is not None and store.service(self.service) is None:
            raise InvalidInput(f"There is no service '{self.service}' in the catalog.",
                               errors={"service": ["Name a service of the catalog, or none for your own changes."]})
        ctx.authorize(CATALOG)
        token = "cal_" + secrets.token_urlsafe(32)
        row = CalendarToken(token_hash=token_hash(token), username=ctx.actor, service=self.service,
                            created_at=ctx.now)
        store.add(row)
        return row, token


@dataclass(frozen=True)
class RevokeCalendarToken:
    """Stop a feed address from working (its owner, or an admin through ``ctx.authorize``)."""

    token_id: int

    def execute(self, ctx: CommandContext) -> None:
        store = ScheduleStore(ctx.session)
        row = store.calendar_token_by_id(self.token_id)
        if row is None or row.username != ctx.actor:
            raise NotFound(f"You have no calendar feed {self.token_id}.")
        store.delete(row)


# -- starting changes and releases ----------------------------------------------------------------


def link_problems(ctx: CommandContext, change_keys: Sequence[Any], *, release_key: str | None = None) -> list[str]:
    """Why a release may not carry ``change_keys``: each must be an open change, not delivered or implemented,
    and not carried by another release."""
    store = ScheduleStore(ctx.session)
    problems = []
    if len(set(change_keys)) != len(change_keys):
        problems.append("A change is linked twice.")
    entries = store.entries(str(key) for key in change_keys)
    for key in change_keys:
        row = ctx.store.instance_by_business_key(key) if isinstance(key, str) else None
        if row is None:
            problems.append(f"{key} does not exist.")
        elif row.practice != "change":
            problems.append(f"{key} is a {row.practice} record, not a change.")
        elif row.status not in OPEN:
            problems.append(f"{key} is {row.status.value}: only an open change can be carried by a release.")
        elif not waits_for_release(ctx.engine.bundle(ctx.store, row.version_id)):
            # Its process would implement it on its own as well: the change would be implemented twice.
            problems.append(f"{key} is a change of '{row.process_key}', whose process implements it itself "
                            f"(it has no '{check_release_delivery.__name__}' service task): a release cannot carry "
                            "it.")
        else:
            entry = entries.get(key)
            if entry is not None and entry.delivered_by is not None:
                problems.append(f"{key} was already delivered by {entry.delivered_by}.")
            elif entry is not None and entry.state in (EntryState.IMPLEMENTED, EntryState.WITHDRAWN):
                problems.append(f"{key} is {entry.state.value}; a release can no longer carry it.")
            others = [link.release_key for link in store.active_links_of_change(key)
                      if link.release_key != release_key]
            if others:
                problems.append(f"{key} is already carried by {others[0]}.")
    return problems


@dataclass(frozen=True)
class StartWithSchedule:
    """Start an instance (``StartInstance``), then apply the schedule's rules to what it was started with.

    A change's planned window obeys the lead-time policy of its model; a release's linked changes must be open
    changes that no other release carries, and become its links. A refusal rolls the whole start back.
    """

    process: str
    data: Mapping[str, Any] = field(default_factory=dict)
    version: int | None = None

    def execute(self, ctx: CommandContext) -> InstanceView:
        view = StartInstance(self.process, self.data, self.version).execute(ctx)
        data = view.data
        if view.practice == "change" and data.get("planned_start"):
            starts = parse_moment(data["planned_start"], "planned_start")
            ends = parse_moment(data["planned_end"], "planned_end") if data.get("planned_end") else None
            errors = check_window(ctx.session, view.process, starts, ends, now=ctx.now)
            if errors:
                raise InvalidInput("The planned window is not allowed.", errors=errors)
        if view.practice == "release" and isinstance(data.get("change_keys"), list):
            keys = list(data["change_keys"])
            problems = link_problems(ctx, keys)
            if problems:
                raise InvalidInput("Some linked changes cannot be carried by this release.",
                                   errors={"change_keys": problems})
            _link_release(ctx, view.business_key, view.process, str(data.get("title") or ""), keys,
                          data.get("planned_deployment"))
        return view


def _link_release(ctx: CommandContext, release_key: str, process: str, title: str, keys: list[str],
                  planned_deployment: object) -> None:
    """Make ``keys`` the release's links, and put the release on the schedule: from its planned deployment (else
    the latest start among its changes) to the latest end among them (else an hour)."""
    store = ScheduleStore(ctx.session)
    store.replace_links(release_key, keys, actor=ctx.actor, now=ctx.now)
    changes = list(store.entries(keys).values())
    if planned_deployment:
        starts = parse_moment(planned_deployment, "planned_deployment")
    elif changes:
        starts = max(entry.starts_at for entry in changes)
    else:
        return
    ends = max((entry.ends_at for entry in changes), default=starts)
    entry = store.entry(release_key, lock=True)
    if entry is None:
        entry = ScheduleEntry(business_key=release_key, practice="release", process_key=process,
                              requested_by=ctx.actor, state=EntryState.REQUESTED)
        ctx.session.add(entry)
    entry.title, entry.service, entry.starts_at = (title or release_key)[:200], None, starts
    entry.ends_at = ends if ends > starts else starts + RELEASE_WINDOW
    entry.updated_at = ctx.now
    ctx.session.flush()


@dataclass(frozen=True)
class AmendReleaseLinks:
    """Replace the changes a release carries, while it is being planned (before it passes the deployment gate)."""

    business_key: str
    change_keys: Sequence[str]

    def execute(self, ctx: CommandContext) -> list[str]:
        row = ctx.store.instance_by_business_key(self.business_key)
        if row is None or row.practice != "release":
            raise NotFound(f"There is no release {self.business_key}.")
        ctx.authorize(InstanceFacts.of(row))
        check = row.data.get("change_check")
        check = check if isinstance(check, dict) else {}
        passed = bool(check.get("all_authorized")) and not check.get("wait")
        if row.status not in (InstanceStatus.RUNNING, InstanceStatus.WAITING) or passed:
            raise InvalidInput(f"{self.business_key} is past planning: its links can no longer change.",
                               errors={"change_keys": ["Links can be amended only before the deployment gate."]})
        keys = list(self.change_keys)
        problems = link_problems(ctx, keys, release_key=self.business_key) or (
            [] if keys else ["Link at least one change."])
        if problems:
            raise InvalidInput("Some linked changes cannot be carried by this release.",
                               errors={"change_keys": problems})
        before = [link.change_key for link in ScheduleStore(ctx.session).links_of_release(self.business_key)]
        _link_release(ctx, self.business_key, row.process_key, str(row.data.get("title") or ""), keys,
                      row.data.get("planned_deployment"))
        ctx.store.add_event(at=ctx.now, actor=ctx.actor, type=EventType.NOTE, instance_id=row.id,
                            data={"text": f"Linked changes amended: {', '.join(before) or 'none'} -> "
                                          f"{', '.join(keys)}", "change_keys": keys, "previous": before})
        return keys


RESCHEDULE = "reschedule"  # the message the shipped normal change waits for beside its planned start


@dataclass(frozen=True)
class RescheduleChange:
    """Move an authorized change, waiting for its window, to a new window: it goes back to authorization (through
    a fresh conflict check and risk decision), and its trail records both windows."""

    business_key: str
    planned_start: datetime
    planned_end: datetime
    reason: str | None = None

    def execute(self, ctx: CommandContext) -> InstanceView:
        row = ctx.store.instance_by_business_key(self.business_key)
        if row is None or row.practice != "change":
            raise NotFound(f"There is no change {self.business_key}.")
        ctx.authorize(InstanceFacts.of(row))
        errors = check_window(ctx.session, row.process_key, self.planned_start, self.planned_end, now=ctx.now)
        if errors:
            raise InvalidInput("The new window is not allowed.", errors=errors)
        entry = ScheduleStore(ctx.session).entry(self.business_key)
        if entry is None or entry.state is not EntryState.AUTHORIZED or row.status is not InstanceStatus.WAITING:
            raise Conflict(f"{self.business_key} is not an authorized change waiting for its window: only such a "
                           "change is rescheduled here; before authorization, its window changes in rework.")
        previous = {"planned_start": entry.starts_at.isoformat(), "planned_end": entry.ends_at.isoformat()}
        window = {"planned_start": self.planned_start.isoformat(), "planned_end": self.planned_end.isoformat()}
        moved = (f"Rescheduled from {previous['planned_start']} - {previous['planned_end']} to "
                 f"{window['planned_start']} - {window['planned_end']}")
        ctx.store.add_event(at=ctx.now, actor=ctx.actor, type=EventType.NOTE, instance_id=row.id, data={
            "text": moved + (f": {self.reason}" if self.reason else ""),
            "previous_window": previous, "window": window, "reason": self.reason})
        return CorrelateMessage(RESCHEDULE, {"business_key": self.business_key}, window).execute(ctx)
