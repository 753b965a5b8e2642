"""A closed history of changes and releases written straight into the mirror tables, for the KPI tests
(a small history with known answers) and the KPI bench (100,000 closed changes).

Rows look like the ones the shipped processes leave behind: the instance with its final data, the human tasks
the KPIs read (authorization, rework) and the release outcome events on a change's trail. Ids follow the rows
already there; on PostgreSQL the sequences are moved past them afterwards.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from engine.models import Event, HumanTask, ProcessInstance, ProcessModel, ProcessVersion
from engine.states import EventType, InstanceStatus, TaskStatus

PRACTICE_OF = {"normal_change": "change", "standard_change": "change", "emergency_change": "change",
               "release": "release"}


@dataclass(frozen=True)
class Task:
    element_id: str
    created_at: datetime
    completed_at: datetime | None
    due_at: datetime | None = None


@dataclass(frozen=True)
class Record:
    """One closed (or still open, when ``ended_at`` is None) change or release."""

    process_key: str
    started_at: datetime
    ended_at: datetime | None
    data: dict[str, Any] = field(default_factory=dict)
    tasks: Sequence[Task] = ()
    release_outcomes: Sequence[str] = ()  # outcomes of releases written on this change's trail
    status: InstanceStatus | None = None  # default: completed when ended, else running


def _version_ids(session: Session) -> dict[str, int]:
    rows = session.execute(select(ProcessModel.key, func.max(ProcessVersion.id))
                           .join(ProcessVersion, ProcessVersion.model_id == ProcessModel.id)
                           .group_by(ProcessModel.key))
    return {key: version_id for key, version_id in rows}


def insert_history(session: Session, records: Iterable[Record], *, batch: int = 5000) -> int:
    """Write the records (the shipped processes must be deployed); return how many."""
    versions = _version_ids(session)
    next_instance = (session.scalar(select(func.max(ProcessInstance.id))) or 0) + 1
    next_event = (session.scalar(select(func.max(Event.id))) or 0) + 1
    instances: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    written = 0

    def flush() -> None:
        if instances:
            session.execute(insert(ProcessInstance), instances)
        if tasks:
            session.execute(insert(HumanTask), tasks)
        if events:
            session.execute(insert(Event), events)
        instances.clear(), tasks.clear(), events.clear()

    for record in records:
        instance_id = next_instance
        next_instance += 1
        practice = PRACTICE_OF[record.process_key]
        key = f"{'REL' if practice == 'release' else 'CHG'}-H{instance_id:07d}"
        status = record.status or (InstanceStatus.COMPLETED if record.ended_at else InstanceStatus.RUNNING)
        instances.append({
            "id": instance_id, "business_key": key, "version_id": versions[record.process_key],
            "process_key": record.process_key, "practice": practice, "status": status,
            "started_by": "history", "started_at": record.started_at,
            "updated_at": record.ended_at or record.started_at, "ended_at": record.ended_at, "state": "{}",
            "serializer_version": "", "data": record.data, "revision": 1, "next_timer_at": None,
            "timer_failures": 0})
        for task in record.tasks:
            tasks.append({
                "id": str(uuid.uuid4()), "instance_id": instance_id, "business_key": key,
                "process_key": record.process_key, "element_id": task.element_id, "title": task.element_id,
                "role": "manager", "practice": practice,
                "status": TaskStatus.COMPLETED if task.completed_at else TaskStatus.CANCELLED, "assignee": None,
                "due_at": task.due_at, "form_key": None, "instructions": None, "separation": [],
                "created_at": task.created_at, "completed_by": "history" if task.completed_at else None,
                "completed_at": task.completed_at})
        for outcome in record.release_outcomes:
            events.append({"id": next_event, "at": record.ended_at or record.started_at, "actor": "system",
                           "type": EventType.RELEASE_OUTCOME, "instance_id": instance_id, "task_id": None,
                           "data": {"release": "REL-H0000000", "outcome": outcome}})
            next_event += 1
        written += 1
        if len(instances) >= batch:
            flush()
    flush()
    if session.get_bind().dialect.name == "postgresql":
        for table in ("process_instance", "event"):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))
    return written


def generated_history(count: int, *, end: datetime, days: int = 365, seed: int = 14) -> Iterable[Record]:
    """``count`` closed changes spread over ``days`` before ``end`` (a tenth of them releases' worth of links),
    with the mix of a busy change practice: 60% normal, 30% standard, 10% emergency; rework, SLA breaches,
    back-outs and roll-backs now and then."""
    rng = random.Random(seed)
    for _ in range(count):
        ended = end - timedelta(seconds=rng.randrange(days * 86400))
        started = ended - timedelta(hours=rng.uniform(2, 240))
        kind = rng.random()
        outcome = rng.choices(("successful", "failed", "backed_out"), (90, 6, 4))[0]
        data: dict[str, Any] = {"implementation_outcome": outcome, "authorized": True,
                                "closure_code": "successful" if outcome == "successful" else "failed"}
        tasks: list[Task] = []
        if kind < 0.6 or kind >= 0.9:
            element = "authorize_emergency_change" if kind >= 0.9 else "authorize_change"
            decided = started + (ended - started) * rng.uniform(0.1, 0.6)
            due = started + timedelta(hours=48) if kind < 0.6 else None
            if kind < 0.6 and rng.random() < 0.15:
                tasks.append(Task("rework_request_for_change", started, started + timedelta(hours=1)))
            tasks.append(Task(element, started, decided, due))
        process = "normal_change" if kind < 0.6 else "standard_change" if kind < 0.9 else "emergency_change"
        outcomes = ("rolled_back",) if rng.random() < 0.02 else ()
        yield Record(process, started, ended, data, tasks, outcomes)
