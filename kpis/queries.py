"""The SQL behind the KPIs: aggregates over closed instances (``process_instance``, by practice and end time),
their human tasks and their audit events. No workflow is ever loaded.

Every query covers the whole reported span at once and buckets rows into periods with a ``CASE`` over the
period bounds (portable: no date functions of one dialect). Lead times come back as hours per record, computed
in SQL, so that percentiles are taken over plain numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Float, Integer, and_, case, cast, distinct, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Subquery

from engine.models import Event, HumanTask, ProcessInstance
from engine.states import EventType, InstanceStatus, TaskStatus
from kpis.definitions import AUTHORIZATION_ELEMENTS, REWORK_ELEMENTS, ROLLED_BACK
from kpis.periods import Period

CLOSED = (InstanceStatus.COMPLETED, InstanceStatus.CANCELLED)


def _bucket(column: Any, periods: Sequence[Period]) -> ColumnElement[int]:
    """The index of the period ``column`` falls in (rows are already limited to the whole span)."""
    if len(periods) == 1:
        return literal(0)
    return case(*((column < period.end, index) for index, period in enumerate(periods[:-1])),
                else_=literal(len(periods) - 1))


def hours_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    """``end - start`` in hours, as SQL on this session's dialect."""
    if session.get_bind().dialect.name == "sqlite":
        return cast((func.julianday(end) - func.julianday(start)) * 24.0, Float)
    return cast(func.extract("epoch", end - start) / 3600.0, Float)


def closed_instances(practice: str, periods: Sequence[Period]) -> Subquery:
    """The records of ``practice`` closed within the periods, with their period index and outcome fields."""
    data = ProcessInstance.data
    return (select(ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.started_at,
                   ProcessInstance.ended_at, _bucket(ProcessInstance.ended_at, periods).label("bucket"),
                   data["implementation_outcome"].as_string().label("outcome"),
                   data["closure_code"].as_string().label("closure_code"),
                   data["outcome"].as_string().label("release_outcome"),
                   data["authorized"].as_boolean().label("authorized"))
            .where(ProcessInstance.practice == practice, ProcessInstance.ended_at >= periods[0].start,
                   ProcessInstance.ended_at < periods[-1].end, ProcessInstance.status.in_(CLOSED))
            .subquery("closed"))


def counts(session: Session, closed: Subquery) -> list[Any]:
    """Rows of (bucket, process_key, outcome, closure_code, release_outcome, count)."""
    columns = (closed.c.bucket, closed.c.process_key, closed.c.outcome, closed.c.closure_code,
               closed.c.release_outcome)
    return list(session.execute(select(*columns, func.count()).group_by(*columns)))


def closure_hours(session: Session, closed: Subquery) -> list[tuple[int, float]]:
    """(bucket, hours from request to closure) per record."""
    statement = select(closed.c.bucket, hours_between(session, closed.c.started_at, closed.c.ended_at))
    return [(bucket, hours) for bucket, hours in session.execute(statement)]


def authorizations(session: Session, closed: Subquery) -> list[tuple[int, bool, float, int]]:
    """Per record with an authorization task: (bucket, authorized, hours from request to its last authorization
    decision, whether any authorization task was completed after its due time)."""
    late = case((and_(HumanTask.due_at.is_not(None), HumanTask.completed_at > HumanTask.due_at), 1), else_=0)
    per_record = (select(closed.c.id, closed.c.bucket, closed.c.started_at, closed.c.authorized,
                         func.max(HumanTask.completed_at).label("decided_at"), func.max(late).label("late"))
                  .join(HumanTask, HumanTask.instance_id == closed.c.id)
                  .where(HumanTask.element_id.in_(AUTHORIZATION_ELEMENTS), HumanTask.status == TaskStatus.COMPLETED)
                  .group_by(closed.c.id, closed.c.bucket, closed.c.started_at, closed.c.authorized)
                  .subquery("per_record"))
    statement = select(per_record.c.bucket, per_record.c.authorized,
                       hours_between(session, per_record.c.started_at, per_record.c.decided_at),
                       cast(per_record.c.late, Integer))
    return [(bucket, bool(authorized), hours, late) for bucket, authorized, hours, late in session.execute(statement)]


def reworked(session: Session, closed: Subquery) -> dict[int, int]:
    """Per bucket: records sent back for rework at least once."""
    statement = (select(closed.c.bucket, func.count(distinct(closed.c.id)))
                 .join(HumanTask, HumanTask.instance_id == closed.c.id)
                 .where(HumanTask.element_id.in_(REWORK_ELEMENTS), HumanTask.status == TaskStatus.COMPLETED)
                 .group_by(closed.c.bucket))
    return {bucket: count for bucket, count in session.execute(statement)}


def rolled_back(session: Session, closed: Subquery) -> dict[int, int]:
    """Per bucket: changes whose trail holds a release outcome 'rolled_back'."""
    statement = (select(closed.c.bucket, func.count(distinct(closed.c.id)))
                 .join(Event, Event.instance_id == closed.c.id)
                 .where(Event.type == EventType.RELEASE_OUTCOME, Event.data["outcome"].as_string() == ROLLED_BACK)
                 .group_by(closed.c.bucket))
    return {bucket: count for bucket, count in session.execute(statement)}


def linked_changes(session: Session, practice: str, periods: Sequence[Period]) -> dict[int, int]:
    """Per bucket: how many changes the closed releases linked (the length of their ``change_keys``)."""
    if session.get_bind().dialect.name == "sqlite":
        length = func.json_array_length(ProcessInstance.data, "$.change_keys")
    else:
        length = func.jsonb_array_length(ProcessInstance.data["change_keys"])
    bucket = _bucket(ProcessInstance.ended_at, periods).label("bucket")
    inner = (select(bucket, func.coalesce(length, 0).label("linked"))
             .where(ProcessInstance.practice == practice, ProcessInstance.ended_at >= periods[0].start,
                    ProcessInstance.ended_at < periods[-1].end, ProcessInstance.status.in_(CLOSED))
             .subquery())
    totals: dict[int, int] = defaultdict(int)
    for index, linked in session.execute(select(inner.c.bucket, func.sum(inner.c.linked)).group_by(inner.c.bucket)):
        totals[index] = int(linked or 0)
    return dict(totals)
