"""The service functions the shipped ITIL processes call: release management under change's authority."""

from __future__ import annotations

from typing import Any

from engine.services import ServiceContext, ServiceError, ServiceRegistry
from engine.states import EventType, InstanceStatus
from schedule import register_services

UNAUTHORIZABLE = (InstanceStatus.CANCELLED, InstanceStatus.ERROR)


def check_changes_authorized(context: ServiceContext, change_keys: list[str]) -> dict[str, Any]:
    """Check that every change a release links exists and has been authorized by change management."""
    if not isinstance(change_keys, list) or not all(isinstance(key, str) for key in change_keys):
        raise ServiceError("change_keys must be a list of change business keys")
    changes, problems = [], []
    for key in change_keys:
        change = context.find_instance(key)
        if change is None or change.practice != "change":
            changes.append({"business_key": key, "exists": False, "status": None, "authorized": False})
            problems.append(f"{key} is not a change")
            continue
        authorized = change.status not in UNAUTHORIZABLE and change.data.get("authorized") is True
        changes.append({"business_key": key, "exists": True, "status": change.status.value,
                        "authorized": authorized})
        if not authorized:
            problems.append(f"{key} is not authorized (status {change.status.value})")
    return {"all_authorized": bool(changes) and not problems, "changes": changes, "problems": problems}


def record_release_outcome(context: ServiceContext, change_keys: list[str], outcome: str,
                           release_key: str | None = None) -> dict[str, Any]:
    """Write the release's outcome on the audit trail of each change it carried.

    The release named is always the calling instance: ``release_key``, if given, must be its own key.
    Only changes are written to; any other key is skipped like a change that does not exist.
    """
    if not isinstance(change_keys, list) or not all(isinstance(key, str) for key in change_keys):
        raise ServiceError("change_keys must be a list of change business keys")
    if release_key is not None and release_key != context.business_key:
        raise ServiceError(f"release_key must be the calling release's own key ({context.business_key}), "
                           f"not {release_key!r}: a release records only its own outcome")
    recorded = []
    for key in change_keys:
        change = context.find_instance(key)
        if change is None or change.practice != "change":
            continue  # the deployment gate already reported it; closing must not fail over it
        context.record_event(key, EventType.RELEASE_OUTCOME, {"release": context.business_key, "outcome": outcome})
        recorded.append(key)
    return {"recorded": recorded}


def itsm_services() -> ServiceRegistry:
    """A registry holding the built-in ITSM services, the change schedule's among them."""
    registry = ServiceRegistry()
    registry.register()(check_changes_authorized)
    registry.register()(record_release_outcome)
    register_services(registry)
    registry.link("release", "change")  # a release carries changes: it reads their status, writes their trail
    return registry
