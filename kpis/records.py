"""Keeping ``kpi_record`` in step with the closed instances: one INSERT ... SELECT over the mirror tables.

``is_stale`` is a cheap check (two index counts) that readers make first; ``RefreshKpiRecords`` adds the
records closed since, in one write transaction. A release rolled back after one of its changes closed marks
that change's record too (the change's trail got the release's outcome when the release closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, delete, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from engine import CommandContext
from engine.models import Event, HumanTask, ProcessInstance
from engine.states import EventType, TaskStatus
from kpis.definitions import AUTHORIZATION_ELEMENTS, BACKED_OUT, REWORK_ELEMENTS, ROLLED_BACK, SUCCESSFUL
from kpis.models import KpiPeriod, KpiRecord

BATCH = 2000  # instances per INSERT ... SELECT (bounded IN lists)
LATE_COMMIT_MARGIN = timedelta(hours=1)  # a command commits long before this after its clock reading


def hours_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    """``end - start`` in hours, as SQL on this session's dialect."""
    if session.get_bind().dialect.name == "sqlite":
        return cast((func.julianday(end) - func.julianday(start)) * 24.0, Float)
    return cast(func.extract("epoch", end - start) / 3600.0, Float)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def is_stale(session: Session) -> bool:
    """Whether instances closed that have no record yet (two counts over indexes)."""
    closed = session.scalar(select(func.count()).select_from(ProcessInstance)
                            .where(ProcessInstance.ended_at.is_not(None)))
    recorded = session.scalar(select(func.count()).select_from(KpiRecord))
    return closed != recorded


def _record_columns(session: Session) -> dict[str, ColumnElement[Any]]:
    """How each column of a closed instance's record is computed from its row, tasks and trail."""
    pi, data = ProcessInstance, ProcessInstance.data
    outcome = data["implementation_outcome"].as_string()
    tasks = select(HumanTask.completed_at).where(HumanTask.instance_id == pi.id,
                                                  HumanTask.status == TaskStatus.COMPLETED)
    authorization = tasks.where(HumanTask.element_id.in_(AUTHORIZATION_ELEMENTS))
    decided_at = (select(func.max(HumanTask.completed_at))
                  .where(HumanTask.instance_id == pi.id, HumanTask.status == TaskStatus.COMPLETED,
                         HumanTask.element_id.in_(AUTHORIZATION_ELEMENTS)).scalar_subquery())
    authorized = and_(exists(authorization), data["authorized"].as_boolean().is_(True))
    late = exists(authorization.where(HumanTask.due_at.is_not(None), HumanTask.completed_at > HumanTask.due_at))
    reworked = exists(tasks.where(HumanTask.element_id.in_(REWORK_ELEMENTS)))
    rolled_back = exists(select(Event.id).where(Event.instance_id == pi.id, Event.type == EventType.RELEASE_OUTCOME,
                                                 Event.data["outcome"].as_string() == ROLLED_BACK))
    if session.get_bind().dialect.name == "sqlite":
        linked: ColumnElement[Any] = func.coalesce(func.json_array_length(data, "$.change_keys"), 0)
    else:
        linked = case((func.jsonb_typeof(data["change_keys"]) == "array", func.jsonb_array_length(data["change_keys"])),
                      else_=0)
    return {
        "instance_id": pi.id, "practice": pi.practice, "process_key": pi.process_key, "ended_at": pi.ended_at,
        "closure_hours": hours_between(session, pi.started_at, pi.ended_at),
        "implemented": _flag(outcome.is_not(None)), "successful": _flag(outcome == SUCCESSFUL),
        "backed_out": _flag((outcome == BACKED_OUT) | (data["closure_code"].as_string() == BACKED_OUT)),
        "rolled_back": _flag(rolled_back), "authorized": _flag(authorized),
        "authorization_hours": case((authorized, hours_between(session, pi.started_at, decided_at)),
                                    else_=literal(None)),
        "sla_breach": _flag(late), "reworked": _flag(reworked),
        "release_outcome": data["outcome"].as_string(), "linked_changes": linked,
    }


def _unrecorded(session: Session, *, since: datetime | None) -> list[int]:
    """Ids of closed instances without a record (closed at or after ``since`` when given: the cheap pass)."""
    statement = select(ProcessInstance.id).where(
        ProcessInstance.ended_at.is_not(None),
        ~exists(select(KpiRecord.instance_id).where(KpiRecord.instance_id == ProcessInstance.id)))
    if since is not None:
        statement = statement.where(ProcessInstance.ended_at >= since)
    return list(session.scalars(statement))


def refresh(session: Session) -> int:
    """Add the records of instances closed since the last refresh; return how many.

    Records close in time order, so the instances closed since the newest record (less a margin for
    transactions that committed late) are looked at first; the whole table only when that was not all."""
    newest = session.scalar(select(func.max(KpiRecord.ended_at)))
    added = 0
    if newest is not None:
        added = _insert(session, _unrecorded(session, since=newest - LATE_COMMIT_MARGIN))
        if not is_stale(session):
            return added
    return added + _insert(session, _unrecorded(session, since=None))


def _insert(session: Session, ids: list[int]) -> int:
    columns = _record_columns(session)
    statement = select(*(column.label(name) for name, column in columns.items()))
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        session.execute(insert(KpiRecord).from_select(list(columns), statement.where(ProcessInstance.id.in_(batch))))
        _forget_periods_of(session, batch)
        _mark_changes_of_rolled_back_releases(session, batch)
    return len(ids)


def _forget_periods_of(session: Session, instance_ids: Any) -> None:
    """Delete the stored figures of every period the records of ``instance_ids`` closed in."""
    spans = session.execute(select(KpiRecord.practice, func.min(KpiRecord.ended_at), func.max(KpiRecord.ended_at))
                            .where(KpiRecord.instance_id.in_(instance_ids)).group_by(KpiRecord.practice)).all()
    for practice, first, last in spans:
        session.execute(delete(KpiPeriod).where(KpiPeriod.practice == practice, KpiPeriod.end > first,
                                                KpiPeriod.start <= last))


def _mark_changes_of_rolled_back_releases(session: Session, new_ids: list[int]) -> None:
    """A release rolled back after some of its changes closed: mark those changes' records."""
    releases = session.scalars(select(ProcessInstance.data).join(KpiRecord, KpiRecord.instance_id == ProcessInstance.id)
                               .where(KpiRecord.instance_id.in_(new_ids), KpiRecord.practice == "release",
                                      KpiRecord.release_outcome == ROLLED_BACK))
    keys = sorted({key for data in releases for key in (data.get("change_keys") or []) if isinstance(key, str)})
    if keys:
        changes = list(session.scalars(select(ProcessInstance.id).where(ProcessInstance.business_key.in_(keys))))
        session.execute(update(KpiRecord).where(KpiRecord.instance_id.in_(changes), KpiRecord.rolled_back == 0)
                        .values(rolled_back=1))
        _forget_periods_of(session, changes)


@dataclass(frozen=True)
class RefreshKpiRecords:
    """Bring ``kpi_record`` up to date (run by ``Engine.run``: one write transaction)."""

    def execute(self, ctx: CommandContext) -> int:
        if not is_stale(ctx.session):  # another request refreshed it meanwhile
            return 0
        return refresh(ctx.session)
