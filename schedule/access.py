"""Who may read and manage the schedule: the rules, on top of the roles package's principals.

The catalog, blackouts and lead-time policies belong to the process owners of change (and admins). Anyone
with a role in change or release reads the schedule; a release manager reads the changes linked to their release.
"""

from __future__ import annotations

from roles.errors import Denied, Hidden
from roles.policy import Principal, Role

SCHEDULE_PRACTICES = ("change", "release")


def may_read_schedule(principal: Principal) -> bool:
    return principal.is_admin or any(principal.in_practice(p) for p in SCHEDULE_PRACTICES)


def check_read_schedule(principal: Principal) -> None:
    """Refuse (404, as if absent) callers with no role in change or release."""
    if not may_read_schedule(principal):
        raise Hidden()


def check_manage_schedule(principal: Principal, facts: object = None) -> None:
    """Only the process owner of the practice (change by default) or an admin manages the schedule."""
    practice = getattr(facts, "practice", "change")
    if not (principal.is_admin or principal.holds(Role.OWNER, practice)):
        raise Denied(f"Only the process owner of {practice} (or an admin) may manage services, blackouts and "
                     "lead times.")


def check_manage_release(principal: Principal, practice: str) -> None:
    """A manager or owner of the release's practice (or an admin) amends its links."""
    if not principal.is_admin and not principal.in_practice(practice):
        raise Hidden()
    if not (principal.is_admin or principal.holds(Role.MANAGER, practice) or principal.holds(Role.OWNER, practice)):
        raise Denied(f"Only a manager or owner of {practice} (or an admin) may amend a release's linked changes.")
