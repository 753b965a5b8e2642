"""The timing rules of a change's window: no start in the past, the owner's lead time, an end after the start.

Plain functions, so that the API, the web app and other packages (standard change templates) apply the same
rules. Each returns field errors ``{field: [messages]}``, empty when the window is acceptable.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from schedule.store import LONGEST_WINDOW, ScheduleStore

#: The lead time of a process model no owner has set a policy for.
DEFAULT_LEAD_TIME_HOURS = 0
#: Process models exempt from lead time and from the past-start rule unless an owner says otherwise.
EXEMPT_BY_DEFAULT = frozenset({"emergency_change"})


def lead_time_hours(session: Session, process_key: str) -> tuple[int, bool]:
    """The lead time (hours) the owner set for ``process_key``, and whether the model is exempt."""
    policy = ScheduleStore(session).policy(process_key)
    if policy is None:
        return DEFAULT_LEAD_TIME_HOURS, process_key in EXEMPT_BY_DEFAULT
    return policy.lead_time_hours, policy.exempt


def window_errors(starts_at: datetime, ends_at: datetime | None, *, now: datetime, lead_hours: int = 0,
                  exempt: bool = False, start_field: str = "planned_start",
                  end_field: str = "planned_end") -> dict[str, list[str]]:
    """Why the window ``[starts_at, ends_at]`` is refused at ``now`` (exempt models skip the time rules)."""
    errors: dict[str, list[str]] = {}
    if not exempt:
        if starts_at < now:
            errors[start_field] = [f"The planned start {starts_at:%Y-%m-%d %H:%M} UTC is in the past; "
                                   "choose a time ahead."]
        elif lead_hours and starts_at < now + timedelta(hours=lead_hours):
            errors[start_field] = [f"This change model needs {lead_hours} hours of lead time: start at "
                                   f"{now + timedelta(hours=lead_hours):%Y-%m-%d %H:%M} UTC or later."]
    if ends_at is not None:
        if ends_at <= starts_at:
            errors.setdefault(end_field, []).append("The planned end must come after the planned start.")
        elif ends_at - starts_at > LONGEST_WINDOW:
            errors.setdefault(end_field, []).append(
                f"A change window may last at most {LONGEST_WINDOW.days} days; split longer work.")
    return errors


def check_window(session: Session, process_key: str, starts_at: datetime, ends_at: datetime | None, *,
                 now: datetime) -> dict[str, list[str]]:
    """``window_errors`` under the owner's policy for ``process_key``."""
    hours, exempt = lead_time_hours(session, process_key)
    return window_errors(starts_at, ends_at, now=now, lead_hours=hours, exempt=exempt)
