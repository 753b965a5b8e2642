"""The engine's tables. Only ``engine.store`` queries them; everything else goes through the store."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy_utc import UtcDateTime

from engine.states import EventType, ExternalTaskStatus, InstanceStatus, TaskStatus

# Constraint and index names every package's tables follow (the migrations rely on them).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)

def _enum(enum_class: type[StrEnum]) -> Enum:
    """Store an enum by its value (what the API shows) and read it back as the enum member."""
    return Enum(enum_class, native_enum=False, length=30, values_callable=lambda members: [m.value for m in members])


# JSONB on PostgreSQL (binary, indexable); plain JSON text elsewhere.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonDocument}


class ProcessModel(Base):
    """A process (``normal_change``) that gets new versions as its diagram changes."""

    __tablename__ = "process_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    practice: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime]


class ProcessVersion(Base):
    """One deployed, immutable revision of a process model: the BPMN, its decisions and form snapshots."""

    __tablename__ = "process_version"
    __table_args__ = (
        UniqueConstraint("model_id", "number"),
        UniqueConstraint("model_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("process_model.id"))
    number: Mapped[int]
    process_id: Mapped[str] = mapped_column(String(200))
    # The content is read only to parse a version into the spec cache, or to show it: deferred.
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    decisions: Mapped[list[str]] = mapped_column(JsonDocument, deferred=True)  # DMN documents, as XML text
    forms: Mapped[dict[str, Any]] = mapped_column(deferred=True)  # key -> form definition, snapshot at deploy
    sha256: Mapped[str] = mapped_column(String(64))
    start_role: Mapped[str | None] = mapped_column(String(50))
    start_form_key: Mapped[str | None] = mapped_column(String(200))
    # The role of user tasks that neither a lane nor an attribute gives one (None: practitioner).
    default_role: Mapped[str | None] = mapped_column(String(50))
    deployed_by: Mapped[str] = mapped_column(String(100))
    deployed_at: Mapped[datetime]
    comment: Mapped[str | None] = mapped_column(Text)


class ProcessInstance(Base):
    """A running (or finished) execution of one process version."""

    __tablename__ = "process_instance"
    # Reports over closed instances (process KPIs) walk one practice's instances by end time.
    __table_args__ = (Index("ix_process_instance_closed", "practice", "ended_at", "process_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_key: Mapped[str] = mapped_column(String(32), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    process_key: Mapped[str] = mapped_column(String(100), index=True)
    practice: Mapped[str] = mapped_column(String(50))
    status: Mapped[InstanceStatus] = mapped_column(_enum(InstanceStatus), index=True)
    started_by: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # SpiffWorkflow's serialized state without the spec (the version holds it), compacted. Only commands
    # that run the workflow read it, so it is deferred.
    state: Mapped[str] = mapped_column(Text, deferred=True)
    serializer_version: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]]  # the latest process data, for reads that must not deserialize
    revision: Mapped[int] = mapped_column(Integer)
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    # Passes in a row in which firing this instance's timers failed unexpectedly (not a script's
    # incident: a bug, a database error). Each failure puts next_timer_at off; too many make an incident.
    timer_failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    # Every UPDATE carries "WHERE revision = <the revision read>" and bumps it; a lost race raises
    # StaleDataError, which the executor turns into a Conflict.
    __mapper_args__ = {"version_id_col": revision}


class HumanTask(Base):
    """A user or manual task that is (or was) ready for people: the task list reads only this table."""

    __tablename__ = "human_task"
    # Task lists walk these in creation order and count with them; see Store.list_tasks. Open tasks are
    # what people list all day, so they get partial indexes; the narrow counting one compresses well
    # (few distinct keys), which makes exact totals over tens of thousands of tasks cheap.
    __table_args__ = (
        Index("ix_human_task_open_queue", "practice", "role", "assignee", "created_at", "id",
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
        Index("ix_human_task_open_count", "practice", "role", "assignee", "process_key",
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
        # "My work" sorts by due date: its big branches are each queue's unassigned tasks, walked as dated
        # tasks by due date and undated ones oldest first (see engine.task_list).
        Index("ix_human_task_open_unassigned_due", "practice", "role", "due_at", "created_at", "id",
              postgresql_where=text("status = 'open' AND assignee IS NULL"),
              sqlite_where=text("status = 'open' AND assignee IS NULL")),
        Index("ix_human_task_open_unassigned_undated", "practice", "role", "created_at", "id",
              postgresql_where=text("status = 'open' AND assignee IS NULL AND due_at IS NULL"),
              sqlite_where=text("status = 'open' AND assignee IS NULL AND due_at IS NULL")),
        Index("ix_human_task_practice", "status", "practice", "created_at", "id"),
        Index("ix_human_task_process", "status", "process_key", "created_at", "id"),
        Index("ix_human_task_assignee", "assignee", "status", "created_at", "id"),
        Index("ix_human_task_instance", "instance_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow's task id
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    business_key: Mapped[str] = mapped_column(String(32))
    process_key: Mapped[str] = mapped_column(String(100))
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(50))
    practice: Mapped[str] = mapped_column(String(50))
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus))
    assignee: Mapped[str | None] = mapped_column(String(100))
    due_at: Mapped[datetime | None]
    form_key: Mapped[str | None] = mapped_column(String(200))
    instructions: Mapped[str | None] = mapped_column(Text)
    # Separation-of-duties rules from the diagram: "requester" or a user task's element id.
    separation: Mapped[list[str]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime]
    completed_by: Mapped[str | None] = mapped_column(String(100))
    completed_at: Mapped[datetime | None]


class ExternalTask(Base):
    """A service task that is (or was) ready for workers outside the engine: the fetch-and-lock queue.

    A worker locks a task until ``lock_expires_at``; after that (a crashed worker) it is fetchable again.
    A reported failure with retries left makes it fetchable again at ``retry_at``.
    """

    __tablename__ = "external_task"
    __table_args__ = (
        Index("ix_external_task_queue", "topic", "practice", "role", "created_at",
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
        Index("ix_external_task_instance", "instance_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow's task id
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    business_key: Mapped[str] = mapped_column(String(32))
    process_key: Mapped[str] = mapped_column(String(100))
    practice: Mapped[str] = mapped_column(String(50))
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    topic: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(50))  # who may work it: as for a human task, from lane or default
    status: Mapped[ExternalTaskStatus] = mapped_column(_enum(ExternalTaskStatus))
    worker_id: Mapped[str | None] = mapped_column(String(200))
    locked_by: Mapped[str | None] = mapped_column(String(100))  # the user whose token the worker used
    lock_expires_at: Mapped[datetime | None]
    retries: Mapped[int | None] = mapped_column(Integer)  # None until a worker first reports a failure
    retry_at: Mapped[datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class TaskExclusion(Base):
    """A user who may not act on a task under a separation-of-duties rule, and why."""

    __tablename__ = "task_exclusion"
    __table_args__ = (Index("ix_task_exclusion_username", "username", "task_id"),)

    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id"), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500))


class Event(Base):
    """The append-only audit trail."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    type: Mapped[EventType] = mapped_column(_enum(EventType))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[dict[str, Any]]


class Incident(Base):
    """Why an instance stopped with an error, until a retry resolves it."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_instance", "instance_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    error_type: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    line: Mapped[int | None]
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))


class MessageSubscription(Base):
    """A message catch event that is waiting, with the correlation values that select its instance."""

    __tablename__ = "message_subscription"
    __table_args__ = (Index("ix_message_subscription_lookup", "message_name", "correlation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    message_name: Mapped[str] = mapped_column(String(200))
    # Canonical JSON of {property: value}, so equal keys compare equal in SQL.
    correlation: Mapped[str] = mapped_column(String(1000))


class BusinessKeySequence(Base):
    """The last number handed out per business-key prefix (CHG, REL, ...)."""

    __tablename__ = "business_key_sequence"

    prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)
