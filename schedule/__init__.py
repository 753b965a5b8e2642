"""The change schedule: the service catalog, blackout windows, the forward schedule of change, conflicts, lead
times, calendar feeds, and releases that move with the changes they carry.

Wired into the generic engine by ``app.py`` through the engine's extension points: its service tasks join the
ITSM registry (``register_services``), and the catalog feeds forms' ``choices_from: services``
(``choice_lists``), and a cancelled instance leaves the schedule (``close_cancelled``, an ``Engine.when_cancelled``
listener). The engine never imports this package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from schedule.cancellation import close_cancelled
from schedule.conflicts import find_conflicts
from schedule.lead_time import check_window, window_errors
from schedule.process_services import register_services
from schedule.store import ScheduleStore


def choice_lists(session: Session) -> Mapping[str, Sequence[str]]:
    """The server lists forms pick from: ``services`` is the catalog's service names."""
    return {"services": ScheduleStore(session).service_names()}


__all__ = ["check_window", "choice_lists", "close_cancelled", "find_conflicts", "register_services",
           "window_errors"]
