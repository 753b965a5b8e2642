"""Entry points for the child processes of the concurrency tests (spawned: each builds its own engine)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cab import register_cab_services
from engine import ClaimTask, CompleteTask, Conflict, Database, Engine, FakeClock
from itsm import BUSINESS_KEY_PREFIXES, itsm_services
from roles.policy import role_for_lane


def _engine(url: str, now: datetime) -> Engine:
    return Engine(Database(url), lane_roles=role_for_lane, clock=FakeClock(now), script_time_limit=1.0,
                  services=register_cab_services(itsm_services()), business_keys=BUSINESS_KEY_PREFIXES)


def complete_task(url: str, now: datetime, task_id: str, actor: str, data: dict[str, Any], barrier: Any) -> str:
    """Complete a task once every process is ready; say how it went."""
    engine = _engine(url, now)
    try:
        barrier.wait(timeout=60)
        engine.run(CompleteTask(task_id, data), actor=actor)
        return "completed"
    except Conflict:
        return "conflict"
    finally:
        engine.database.dispose()


def claim_task(url: str, now: datetime, task_id: str, actor: str, barrier: Any) -> str:
    engine = _engine(url, now)
    try:
        barrier.wait(timeout=60)
        engine.run(ClaimTask(task_id), actor=actor)
        return "claimed"
    except Conflict:
        return "conflict"
    finally:
        engine.database.dispose()


def fire_timers(url: str, now: datetime, barrier: Any) -> int:
    """Fire every timer due by ``now``; return how many instances this worker handled."""
    engine = _engine(url, now)
    try:
        barrier.wait(timeout=60)
        return engine.fire_due_timers(now)
    finally:
        engine.database.dispose()
