"""The service tasks the shipped change and release processes call to keep the forward schedule.

They run inside the calling command's transaction (``ServiceContext``), with the calling instance's rights: a
release reaches the changes it carries (the ``release -> change`` link of the ITSM registry).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.services import ServiceContext, ServiceError, ServiceRegistry
from engine.specs import ProcessBundle, all_task_specs
from engine.states import EventType, InstanceStatus
from schedule.conflicts import find_conflicts
from schedule.models import EntryState, ScheduleEntry
from schedule.store import ScheduleStore

OPEN = (InstanceStatus.RUNNING, InstanceStatus.WAITING)
#: The message a change waiting for its release receives when the release settles.
RELEASE_SETTLED = "release_settled"
#: A release closure code, as the outcome of each change it carried.
CHANGE_OUTCOME_OF_RELEASE = {"deployed": "successful", "rolled_back": "backed_out"}
#: The deploy task's deadline when no linked change has a window on the schedule (changes raised before it
#: existed): no window to keep, so a deadline far enough never to matter, yet a valid timer.
NO_WINDOW_DEADLINE = timedelta(days=366)


def parse_moment(value: object, name: str) -> datetime:
    """An ISO 8601 date-time from process data, as an aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as error:
            raise ServiceError(f"{name} is not an ISO 8601 date-time: {value!r}") from error
    else:
        raise ServiceError(f"{name} must be a date-time, not {type(value).__name__}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def schedule_change(context: ServiceContext, service: str, planned_start: str, planned_end: str,
                    title: str = "") -> list[dict[str, Any]]:
    """Put the calling change on the forward schedule (or move it) and return its conflicts (``[]``: none).

    The shipped normal change stores the answer as ``schedule_conflicts`` before its risk is assessed.
    """
    starts_at, ends_at = parse_moment(planned_start, "planned_start"), parse_moment(planned_end, "planned_end")
    store = ScheduleStore(context.session)
    entry = store.entry(context.business_key, lock=True)
    if entry is None:
        me = context.find_instance(context.business_key)
        entry = ScheduleEntry(business_key=context.business_key, practice=context.practice,
                              process_key=me.process_key if me else "", requested_by=context.actor)
        context.session.add(entry)
    entry.title, entry.service, entry.starts_at, entry.ends_at = (title or context.business_key)[:200], service, \
        starts_at, ends_at
    entry.state, entry.updated_at = EntryState.REQUESTED, context.now
    context.session.flush()
    return find_conflicts(context.session, service=service, starts_at=starts_at, ends_at=ends_at,
                          exclude=context.business_key)


def schedule_preapproved_change(context: ServiceContext, service: str, planned_start: str, planned_end: str,
                                title: str = "") -> list[dict[str, Any]]:
    """Put the calling pre-approved (standard) change on the forward schedule as authorized; return its
    conflicts, which other changes of the service then see as an overlap with it."""
    conflicts = schedule_change(context, service, planned_start, planned_end, title)
    mark_change_authorized(context)
    return conflicts


def withdraw_change(context: ServiceContext, closure_code: str) -> str:
    """Take the calling change off the forward schedule (rejected or cancelled); answer ``closure_code``."""
    entry = ScheduleStore(context.session).entry(context.business_key, lock=True)
    if entry is not None:
        entry.state, entry.updated_at = EntryState.WITHDRAWN, context.now
    return closure_code


def mark_change_authorized(context: ServiceContext) -> bool:
    """Record on the schedule that the calling change is authorized for its window."""
    entry = ScheduleStore(context.session).entry(context.business_key, lock=True)
    if entry is not None:
        entry.state, entry.updated_at = EntryState.AUTHORIZED, context.now
    return True


def check_release_delivery(context: ServiceContext) -> dict[str, Any]:
    """At the calling change's planned start: whether a release carries it, and with what outcome.

    ``{"release": None, ...}``: nothing carries it; it implements itself (and the schedule says so).
    ``{"release": "REL-x", "outcome": None}``: an open release carries it; the change waits for the release.
    ``{"release": "REL-x", "outcome": "successful"}``: the release delivered it; its implementation is done.
    """
    store = ScheduleStore(context.session)
    entry = store.entry(context.business_key, lock=True)
    if entry is not None and entry.delivered_by is not None:
        return {"release": entry.delivered_by, "outcome": entry.outcome}
    links = store.active_links_of_change(context.business_key)
    if links:
        return {"release": links[0].release_key, "outcome": None}
    if entry is not None:
        entry.state, entry.updated_at = EntryState.IMPLEMENTED, context.now
    return {"release": None, "outcome": None}


def waits_for_release(bundle: ProcessBundle) -> bool:
    """Whether a change process lets a release deliver its changes: it asks ``check_release_delivery`` before
    implementing (the shipped normal and standard changes do; the emergency change implements at once)."""
    return any(getattr(spec, "operation_name", None) == check_release_delivery.__name__
               for spec in all_task_specs(bundle.spec, bundle.subprocess_specs))


def check_release_changes(context: ServiceContext) -> dict[str, Any]:
    """The deployment gate's check of the changes the calling release carries (its links).

    A change passes only if it is a change, open, authorized and not yet delivered. ``window_start`` is the
    latest planned start among them: the deployment waits for it (``wait``). Once it has come, a deployment
    outside every change's window is refused, with the reason in ``problems``.
    """
    store = ScheduleStore(context.session)
    keys = [link.change_key for link in store.links_of_release(context.business_key)]
    entries = store.entries(keys)
    changes, problems = [], []
    for key in keys:
        change = context.find_instance(key)
        entry = entries.get(key)
        if change is None or change.practice != "change":
            changes.append({"business_key": key, "exists": False, "status": None, "authorized": False})
            problems.append(f"{key} is not a change")
            continue
        authorized = change.data.get("authorized") is True
        changes.append({"business_key": key, "exists": True, "status": change.status.value, "authorized": authorized,
                        "starts_at": entry.starts_at.isoformat() if entry else None,
                        "ends_at": entry.ends_at.isoformat() if entry else None})
        if change.status not in OPEN:
            problems.append(f"{key} is {change.status.value}, not open")
        elif entry is not None and entry.delivered_by is not None:
            problems.append(f"{key} was already delivered by {entry.delivered_by}")
        elif not authorized:
            problems.append(f"{key} is not authorized (status {change.status.value})")
        elif entry is not None and entry.state is EntryState.IMPLEMENTED:
            problems.append(f"{key} is being implemented on its own")
    if not keys:
        problems.append(f"{context.business_key} carries no change (a cancelled change leaves its release); link "
                        "one while planning, or cancel the release")
    windows = [(entry.starts_at, entry.ends_at) for entry in entries.values()]
    window_start = max((starts for starts, _ in windows), default=None)
    window_end = max((ends for _, ends in windows), default=None)
    wait = not problems and window_start is not None and context.now < window_start
    if not problems and not wait and windows and not any(starts <= context.now < ends for starts, ends in windows):
        problems.append(f"It is {context.now:%Y-%m-%d %H:%M} UTC, outside the window of every linked change "
                        f"(the last ended {window_end:%Y-%m-%d %H:%M} UTC); "
                        "reschedule the changes or unlink them")
    return {"all_authorized": bool(keys) and not problems, "changes": changes, "problems": problems,
            "change_keys": keys, "wait": wait,
            "window_start": window_start.isoformat() if window_start else None,
            # The deployment must be recorded before the last window ends (the deploy task's deadline).
            "deploy_by": (window_end or context.now + NO_WINDOW_DEADLINE).isoformat()}


def settle_release(context: ServiceContext, outcome: str) -> dict[str, Any]:
    """Record the calling release's outcome on each change it carries, once.

    A release that deployed (``deployed``, ``rolled_back``) delivered its changes: each records that it was
    delivered by this release, with the outcome, and its own implementation step completes with it. A release
    that ended otherwise (rejected, cancelled) lets its changes go: they implement themselves.
    """
    store = ScheduleStore(context.session)
    delivered = outcome in CHANGE_OUTCOME_OF_RELEASE
    links = store.links_of_release(context.business_key)
    entries = store.entries(link.change_key for link in links)
    recorded = []
    for link in links:
        change = context.find_instance(link.change_key)
        if change is None or change.practice != "change":
            link.active = False
            continue
        entry = entries.get(link.change_key)
        data: dict[str, Any] = {"release": context.business_key, "outcome": outcome, "delivered": delivered}
        if delivered and entry is not None and entry.delivered_by is None:
            entry.delivered_by, entry.outcome = context.business_key, CHANGE_OUTCOME_OF_RELEASE[outcome]
            entry.state, entry.updated_at = EntryState.DELIVERED, context.now
            data["change_outcome"] = entry.outcome
        elif not delivered:
            link.active = False
        context.record_event(link.change_key, EventType.RELEASE_OUTCOME, data)
        context.send_message(link.change_key, RELEASE_SETTLED, {"release": context.business_key})
        recorded.append(link.change_key)
    own = store.entry(context.business_key, lock=True)
    if own is not None:
        own.state = EntryState.DELIVERED if delivered else EntryState.WITHDRAWN
        own.outcome, own.updated_at = outcome, context.now
    context.session.flush()
    return {"recorded": recorded}


def register_services(registry: ServiceRegistry) -> ServiceRegistry:
    """Add the schedule's service tasks to ``registry`` (the application's, from ``itsm.itsm_services()``)."""
    for function in (schedule_change, schedule_preapproved_change, withdraw_change, mark_change_authorized,
                     check_release_delivery, check_release_changes, settle_release):
        registry.register()(function)
    return registry
