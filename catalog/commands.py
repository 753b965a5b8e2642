"""The catalog's commands, each run by ``Engine.run`` in one transaction like the engine's own.

Publishing and retiring are for the practice's owner (``ctx.authorize`` is given ``PracticeFacts``);
raising a standard change from a template starts the shipped ``standard_change`` process under the start
policy, in the same transaction as the template checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from catalog import queries
from catalog.models import ChangeTemplate, TemplateStatus
from catalog.views import TemplateView
from catalog.windows import as_json, parse_windows
from engine import CommandContext, Conflict, InvalidInput, NotFound, StartInstance
from engine.views import InstanceView
from forms import FormDefinition
from roles.policy import PracticeFacts
from schedule import check_window, find_conflicts
from schedule.conflicts import BLACKOUT
from schedule.models import Service
from schedule.store import ScheduleStore

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
# /api/change-templates/candidates lists the maturity loop's; /catalog/new is the web app's publish form.
RESERVED_KEYS = frozenset({"candidates", "new"})
RISKS = ("low", "medium", "high")
STANDARD_CHANGE = "standard_change"
DEFAULT_MIN_SUCCESSES = 3  # the maturity loop: how many successes make a normal change a template candidate
LISTED_SERVICES = 20  # services named in the refusal of an unknown one


# What a practitioner fills in to raise a standard change (the web page renders it; the template gives the rest).
RAISE_FORM = FormDefinition.from_dict("catalog/raise", {
    "title": "Raise a standard change",
    "fields": [
        {"name": "planned_start", "type": "date-time", "label": "Planned start", "required": True},
        {"name": "planned_end", "type": "date-time", "label": "Planned end", "required": True},
        {"name": "title", "type": "string", "label": "Title", "max_length": 200,
         "description": "Leave empty to use the template's name."},
        {"name": "notes", "type": "text", "label": "Specifics", "max_length": 20000,
         "description": "What is particular to this change: hosts, tickets, contacts."},
    ],
})


# What the owner fills in to publish a template in the web app (the API takes the same as JSON). The service is
# picked from the catalog, as a change request's is; windows are typed one per line.
PUBLISH_FORM = FormDefinition.from_dict("catalog/publish", {
    "title": "Publish a standard change template",
    "fields": [
        {"name": "key", "type": "string", "label": "Key", "required": True, "max_length": 100,
         "description": "Lowercase letters, digits, '-' or '_', starting with a letter. Publishing a key that exists "
                        "makes its next version."},
        {"name": "name", "type": "string", "label": "Name", "required": True, "max_length": 200},
        {"name": "service", "type": "string", "label": "Service", "required": True, "choices_from": "services",
         "description": "A service of the catalog (Services)."},
        {"name": "implementation_plan", "type": "text", "label": "Implementation plan", "required": True,
         "max_length": 20000},
        {"name": "backout_plan", "type": "text", "label": "Backout plan", "required": True, "max_length": 20000},
        {"name": "test_plan", "type": "text", "label": "Test plan", "required": True, "max_length": 20000},
        {"name": "max_risk", "type": "enum", "label": "Maximum risk", "required": True,
         "choices": ["low", "medium", "high"]},
        {"name": "allowed_windows", "type": "list", "items": "string", "label": "Allowed windows (UTC)",
         "required": True, "description": "One per line: the days, then the hours, e.g. sat,sun 06:00-10:00."},
    ],
})


def _authorize(ctx: CommandContext, practice: str) -> None:
    """Ask the policy about the practice's catalog. The engine types its authorizer for the engine's own facts;
    the policy's rules take anything with a ``practice``, as ``PracticeFacts`` is."""
    ctx.authorize(PracticeFacts(practice))  # type: ignore[arg-type]


@dataclass(frozen=True)
class TemplateContent:
    """What a template says; checked by ``problems``."""

    name: str
    service: str
    implementation_plan: str
    backout_plan: str
    test_plan: str
    max_risk: str
    allowed_windows: Sequence[Any]

    def checked_windows(self) -> list[dict[str, Any]]:
        """The allowed windows, normalised; ``InvalidInput`` naming each bad field otherwise."""
        errors: dict[str, list[str]] = {}
        for name in ("name", "service", "implementation_plan", "backout_plan", "test_plan"):
            if not str(getattr(self, name)).strip():
                errors[name] = ["Must not be blank."]
        if self.max_risk not in RISKS:
            errors["max_risk"] = [f"Must be one of: {', '.join(RISKS)}."]
        windows, problems = parse_windows(list(self.allowed_windows))
        if problems:
            errors["allowed_windows"] = problems
        if errors:
            raise InvalidInput("The template is not valid.", errors=errors)
        return as_json(windows)


@dataclass(frozen=True)
class PublishTemplate:
    """Publish a template, or a new version of one: the previous active version is superseded."""

    key: str
    content: TemplateContent
    practice: str = "change"
    source_changes: tuple[str, ...] = ()

    def execute(self, ctx: CommandContext) -> TemplateView:
        if not KEY_PATTERN.match(self.key) or self.key in RESERVED_KEYS:
            raise InvalidInput("Invalid template key.", errors={"key": [
                "Use 1 to 100 lowercase letters, digits, '-' or '_', starting with a letter (not 'candidates' or "
                "'new')."]})
        _authorize(ctx, self.practice)
        windows = self.content.checked_windows()
        service = catalog_service(ctx, self.content.service)
        latest = queries.latest_version(ctx.session, self.key, lock=True)
        if latest is not None and latest.practice != self.practice:
            raise InvalidInput(f"The template '{self.key}' belongs to the practice '{latest.practice}'.",
                               errors={"practice": [f"Must be '{latest.practice}' for this template."]})
        if latest is not None and latest.status is TemplateStatus.ACTIVE:
            latest.status = TemplateStatus.SUPERSEDED
        content = self.content
        row = ChangeTemplate(
            key=self.key, version=(latest.version if latest else 0) + 1, practice=self.practice,
            status=TemplateStatus.ACTIVE, name=content.name.strip(), service_id=service.id, service=service.name,
            implementation_plan=content.implementation_plan, backout_plan=content.backout_plan,
            test_plan=content.test_plan, max_risk=content.max_risk, allowed_windows=windows,
            source_changes=list(self.source_changes), published_by=ctx.actor, published_at=ctx.now)
        ctx.session.add(row)
        ctx.session.flush()
        return TemplateView.of(row)


@dataclass(frozen=True)
class RetireTemplate:
    """Retire a template: no standard change may be raised from it any more (changes raised go on)."""

    key: str

    def execute(self, ctx: CommandContext) -> TemplateView:
        latest = queries.latest_version(ctx.session, self.key, lock=True)
        if latest is None:
            raise NotFound(f"There is no template '{self.key}'.")
        _authorize(ctx, latest.practice)
        if latest.status is not TemplateStatus.RETIRED:  # retiring twice changes nothing
            latest.status, latest.retired_by, latest.retired_at = TemplateStatus.RETIRED, ctx.actor, ctx.now
        return TemplateView.of(latest)


def catalog_service(ctx: CommandContext, name: str) -> Service:
    """The service ``name`` of the schedule's catalog, locked until the command commits (so it cannot leave the
    catalog meanwhile); ``InvalidInput`` on ``service`` saying how to add it otherwise."""
    store = ScheduleStore(ctx.session)
    found = store.service(name.strip(), lock=True)
    if found is not None:
        return found
    names = store.service_names()
    known = (f"The catalog has: {', '.join(names[:LISTED_SERVICES])}{', ...' if len(names) > LISTED_SERVICES else ''}."
             if names else "The catalog has no service yet.")
    raise InvalidInput(f"There is no service '{name.strip()}' in the catalog.", errors={"service": [
        f"'{name.strip()}' is not a service of the catalog. {known} To add it, the change owner or an admin uses "
        f"Services in the web app, POST /api/services, or: flask --app app services add '{name.strip()}'."]})


def _moment(value: str, name: str, errors: dict[str, list[str]]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        errors[name] = ["Not a valid date-time; use ISO 8601 with an offset, e.g. 2026-01-05T22:00:00Z."]
        return None
    if moment.tzinfo is None:
        errors[name] = ["Add a timezone offset, for example Z or +01:00."]
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC time
        errors[name] = ["Out of range: name a time between the years 1 and 9999 in UTC."]
        return None


@dataclass(frozen=True)
class RaiseStandardChange:
    """Start a standard change from the active version of a template: the practitioner gives the window
    (which must lie in one of the template's allowed windows) and the specifics; the template gives the
    model, service and plans. No approval follows: the shipped process is pre-authorized."""

    key: str
    planned_start: str
    planned_end: str
    title: str | None = None
    notes: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def execute(self, ctx: CommandContext) -> InstanceView:
        template = queries.latest_version(ctx.session, self.key)
        if template is None:
            raise NotFound(f"There is no template '{self.key}'.")
        if template.status is TemplateStatus.RETIRED:
            raise Conflict(f"The template '{self.key}' was retired on {template.retired_at:%Y-%m-%d} by "
                           f"{template.retired_by}; raise a normal change, or ask the owner for a current template.",
                           template=self.key, retired_at=template.retired_at.isoformat() if template.retired_at
                           else None)
        start, end = self._window(template)
        self._check_schedule(ctx, template, start, end)
        data: dict[str, Any] = {
            "standard_model": template.key, "template_version": template.version,
            "title": (self.title or "").strip() or template.name, "affected_service": template.service,
            "planned_start": start.isoformat(), "planned_end": end.isoformat(),
            "implementation_plan": template.implementation_plan, "backout_plan": template.backout_plan,
            "test_plan": template.test_plan, "max_risk": template.max_risk,
        }
        if self.notes and self.notes.strip():
            data["notes"] = self.notes
        return StartInstance(process=STANDARD_CHANGE, data=data).execute(ctx)

    @staticmethod
    def _check_schedule(ctx: CommandContext, template: ChangeTemplate, start: datetime, end: datetime) -> None:
        """The schedule's rules for a pre-approved change: the standard model's lead time (no start in the
        past), and no window inside a blackout (nobody would weigh it: a standard change has no authorization)."""
        errors = check_window(ctx.session, STANDARD_CHANGE, start, end, now=ctx.now)
        blackouts = [conflict["message"] for conflict in find_conflicts(
            ctx.session, service=template.service, starts_at=start, ends_at=end, exclude=None)
            if conflict["kind"] == BLACKOUT]
        if blackouts:
            errors.setdefault("planned_start", []).extend(
                f"{message} A standard change is pre-approved only outside blackouts: choose another window, or "
                "raise a normal change." for message in blackouts)
        if errors:
            raise InvalidInput("The planned window breaks the change schedule's rules.", errors=errors)

    def _window(self, template: ChangeTemplate) -> tuple[datetime, datetime]:
        """The planned window, checked: it ends after it starts and lies in an allowed window (the schedule's
        rules follow in ``_check_schedule``)."""
        errors: dict[str, list[str]] = {}
        start = _moment(self.planned_start, "planned_start", errors)
        end = _moment(self.planned_end, "planned_end", errors)
        if start is not None and end is not None:
            windows, _problems = parse_windows(template.allowed_windows)
            if end <= start:
                errors["planned_end"] = ["Must be after the planned start."]
            elif not any(window.fits(start, end) for window in windows):
                allowed = "; ".join(window.describe() for window in windows)
                errors["planned_start"] = [f"The window must lie within an allowed window of '{template.key}': "
                                           f"{allowed}."]
        if errors or start is None or end is None:
            raise InvalidInput("The planned window does not fit the template.", errors=errors)
        return start, end


@dataclass(frozen=True)
class ApproveCandidate:
    """The maturity loop: publish a template from a (service, implementation plan) that closed normal changes
    carried out successfully at least ``min_successes`` times. The backout and test plans come from the latest
    of those changes; the owner names the template and gives its maximum risk and allowed windows."""

    key: str
    name: str
    service: str
    implementation_plan: str
    max_risk: str
    allowed_windows: Sequence[Any]
    min_successes: int = DEFAULT_MIN_SUCCESSES
    practice: str = "change"

    def execute(self, ctx: CommandContext) -> TemplateView:
        _authorize(ctx, self.practice)
        found = queries.candidate(ctx.session, self.practice, self.service, self.implementation_plan)
        if found.successes < self.min_successes:
            raise Conflict(f"Only {found.successes} closed normal change(s) of '{self.service}' succeeded with this "
                           f"implementation plan; a template needs {self.min_successes}.",
                           successes=found.successes, needed=self.min_successes)
        content = TemplateContent(name=self.name, service=self.service, implementation_plan=self.implementation_plan,
                                  backout_plan=found.backout_plan or "See the source changes.",
                                  test_plan=found.test_plan or "See the source changes.", max_risk=self.max_risk,
                                  allowed_windows=self.allowed_windows)
        return PublishTemplate(self.key, content, practice=self.practice,
                               source_changes=tuple(found.changes)).execute(ctx)
