"""Plain results: what commands and queries return, and the facts authorization decisions need.

They are frozen dataclasses built from rows, so nothing outside the engine holds a live ORM object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from engine.models import Event, ExternalTask, HumanTask, Incident, ProcessInstance, ProcessModel, ProcessVersion
from engine.states import EventType, ExternalTaskStatus, InstanceStatus, TaskStatus
from forms import FormDefinition, to_json_schema

DUE_SOON = timedelta(hours=8)


class SlaState(StrEnum):
    """Where a task stands against its due date."""

    NONE = "none"  # no due date
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"  # due within ``DUE_SOON``
    OVERDUE = "overdue"

    @classmethod
    def at(cls, due_at: datetime | None, now: datetime) -> SlaState:
        if due_at is None:
            return cls.NONE
        if due_at <= now:
            return cls.OVERDUE
        return cls.DUE_SOON if due_at - now <= DUE_SOON else cls.ON_TRACK


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class TaskView:
    id: str
    instance_id: int
    business_key: str
    process: str
    element_id: str
    title: str
    role: str
    practice: str
    state: TaskStatus
    assignee: str | None
    due_at: datetime | None
    form_key: str | None
    instructions: str | None
    separation_of_duties: tuple[str, ...]
    created_at: datetime
    completed_by: str | None
    completed_at: datetime | None
    # What a task list shows of the record (filled in by task lists; see ``with_record``).
    record_title: str | None = None
    risk: str | None = None
    planned_start: str | None = None
    planned_end: str | None = None
    sla_state: SlaState | None = None

    def with_record(self, data: dict[str, Any], now: datetime) -> TaskView:
        """This task with its record's title, risk and planned window, and its SLA state at ``now``."""
        return replace(self, record_title=_text(data.get("title")), risk=_text(data.get("risk")),
                       planned_start=_text(data.get("planned_start") or data.get("planned_deployment")),
                       planned_end=_text(data.get("planned_end")), sla_state=SlaState.at(self.due_at, now))

    @classmethod
    def of(cls, row: HumanTask) -> TaskView:
        return cls(
            id=row.id, instance_id=row.instance_id, business_key=row.business_key, process=row.process_key,
            element_id=row.element_id, title=row.title, role=row.role, practice=row.practice,
            state=row.status, assignee=row.assignee, due_at=row.due_at, form_key=row.form_key,
            instructions=row.instructions, separation_of_duties=tuple(row.separation),
            created_at=row.created_at, completed_by=row.completed_by, completed_at=row.completed_at,
        )


@dataclass(frozen=True)
class ExternalTaskView:
    """A service task that workers outside the engine carry out, and who holds it until when."""

    id: str
    topic: str
    instance_id: int
    business_key: str
    process: str
    element_id: str
    title: str
    role: str
    practice: str
    state: ExternalTaskStatus
    worker_id: str | None
    lock_expires_at: datetime | None
    retries: int | None
    retry_at: datetime | None
    error_message: str | None
    created_at: datetime
    completed_at: datetime | None
    variables: dict[str, Any] | None = None  # the process data, given to the worker that locks it

    @classmethod
    def of(cls, row: ExternalTask, variables: dict[str, Any] | None = None) -> ExternalTaskView:
        return cls(
            id=row.id, topic=row.topic, instance_id=row.instance_id, business_key=row.business_key,
            process=row.process_key, element_id=row.element_id, title=row.title, role=row.role,
            practice=row.practice, state=row.status, worker_id=row.worker_id, lock_expires_at=row.lock_expires_at,
            retries=row.retries, retry_at=row.retry_at, error_message=row.error_message, created_at=row.created_at,
            completed_at=row.completed_at, variables=variables,
        )


@dataclass(frozen=True)
class TaskDetail:
    """A task with what a person needs to work on it."""

    task: TaskView
    form: dict[str, Any] | None  # {"key", "title", "schema"} or None when the task has no form
    data: dict[str, Any]
    instance_status: InstanceStatus
    requester: str
    definition: FormDefinition | None = None  # the form itself, for rendering it


@dataclass(frozen=True)
class StartForm:
    """A version's start form: the definition (to render it) and its JSON Schema (to publish it)."""

    process: str
    version: int
    practice: str
    start_role: str | None
    definition: FormDefinition | None
    choices: Mapping[str, Sequence[str]] | None = None  # the server lists its ``choices_from`` fields pick from

    @property
    def form(self) -> dict[str, Any] | None:
        if self.definition is None:
            return None
        return {"key": self.definition.key, "title": self.definition.title,
                "schema": to_json_schema(self.definition, {}, self.choices)}


@dataclass(frozen=True)
class MyWork:
    """A person's work list: a page of tasks (``listing``), counts per queue and the process models."""

    listing: Any  # engine.store.Listing of TaskView
    counts: dict[tuple[str, str], tuple[int, int]]  # (role, practice) -> (may take now, held by them)
    models: list[ModelView]


@dataclass(frozen=True)
class RecordView:
    """What a record's page shows, read in one transaction."""

    instance: InstanceView
    tasks: list[TaskView]  # every task it ever had, oldest first
    exclusions: dict[str, dict[str, str]]  # live task id -> {barred user: why}
    events: list[EventView]  # the trail, oldest first
    element_names: dict[str, str]  # BPMN element id -> name
    start_form: FormDefinition | None


@dataclass(frozen=True)
class DiagramView:
    """A version's BPMN and where an instance stands on it, by element id."""

    bpmn: str
    completed: list[str]
    active: list[str]
    waiting: list[str]


@dataclass(frozen=True)
class IncidentView:
    id: int
    task_id: str | None
    element_id: str | None
    error_type: str
    message: str
    line: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: Incident) -> IncidentView:
        return cls(row.id, row.task_id, row.element_id, row.error_type, row.message, row.line, row.created_at)


@dataclass(frozen=True)
class InstanceView:
    id: int
    business_key: str
    process: str
    version: int
    practice: str
    status: InstanceStatus
    data: dict[str, Any]
    tasks: list[TaskView]
    started_by: str
    started_at: datetime
    ended_at: datetime | None
    next_timer_at: datetime | None
    incident: IncidentView | None = None
    # Why a waiting instance waits: [{"kind": "message", "name"}, {"kind": "external_task", "element_id",
    # "topic"}, {"kind": "timer", "due_at"}]. Filled for single-instance reads, empty in lists.
    waiting_for: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, row: ProcessInstance, version_number: int, tasks: list[HumanTask],
           incident: Incident | None = None, waiting_for: list[dict[str, Any]] | None = None) -> InstanceView:
        return cls(
            id=row.id, business_key=row.business_key, process=row.process_key, version=version_number,
            practice=row.practice, status=row.status, data=dict(row.data),
            tasks=[TaskView.of(task) for task in tasks], started_by=row.started_by, started_at=row.started_at,
            ended_at=row.ended_at, next_timer_at=row.next_timer_at,
            incident=IncidentView.of(incident) if incident is not None else None,
            waiting_for=list(waiting_for or []),
        )


@dataclass(frozen=True)
class InstanceSummary:
    id: int
    business_key: str
    status: InstanceStatus


@dataclass(frozen=True)
class CompletionView:
    """What completing a task answers: where the instance is now and what is open next."""

    instance: InstanceSummary
    next_tasks: list[TaskView]


@dataclass(frozen=True)
class EventView:
    id: int
    at: datetime
    actor: str
    type: EventType
    instance_id: int | None
    task_id: str | None
    data: dict[str, Any]

    @classmethod
    def of(cls, row: Event) -> EventView:
        return cls(row.id, row.at, row.actor, row.type, row.instance_id, row.task_id, dict(row.data))


@dataclass(frozen=True)
class ModelView:
    key: str
    name: str
    practice: str
    latest_version: int | None

    @classmethod
    def of(cls, row: ProcessModel, latest_version: int | None) -> ModelView:
        return cls(row.key, row.name, row.practice, latest_version)


@dataclass(frozen=True)
class VersionView:
    key: str
    version: int
    process_id: str
    sha256: str
    practice: str
    deployed_by: str
    deployed_at: datetime
    comment: str | None
    start_role: str | None
    start_form: str | None
    forms: list[str]
    bpmn: str | None = None
    decisions: list[str] = field(default_factory=list)
    instances: dict[str, int] = field(default_factory=dict)  # how many of its instances are in each status
    form_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> the form as deployed

    @classmethod
    def of(cls, model: ProcessModel, row: ProcessVersion, *, with_content: bool = False,
           instances: dict[str, int] | None = None) -> VersionView:
        return cls(
            key=model.key, version=row.number, process_id=row.process_id, sha256=row.sha256,
            practice=model.practice, deployed_by=row.deployed_by, deployed_at=row.deployed_at,
            comment=row.comment, start_role=row.start_role, start_form=row.start_form_key,
            forms=sorted(row.forms), bpmn=row.bpmn_xml if with_content else None,
            decisions=list(row.decisions) if with_content else [], instances=dict(instances or {}),
            form_definitions={key: dict(value) for key, value in row.forms.items()} if with_content else {},
        )


@dataclass(frozen=True)
class DeployResult:
    version: VersionView
    created: bool  # False when identical content was already deployed
    warnings: list[dict[str, Any]] = field(default_factory=list)  # {element_id, message, line}


@dataclass(frozen=True)
class ValidationReport:
    """A dry-run deploy that passed."""

    process_id: str
    name: str
    sha256: str
    forms: list[str]
    start_role: str | None
    user_tasks: list[dict[str, Any]]
    warnings: list[dict[str, Any]] = field(default_factory=list)  # {element_id, message, line}


# -- facts for authorization ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessFacts:
    """Deploying or starting a process model."""

    process: str
    practice: str
    start_role: str | None = None


@dataclass(frozen=True)
class InstanceFacts:
    instance_id: int
    business_key: str
    process: str
    practice: str
    started_by: str
    status: InstanceStatus

    @classmethod
    def of(cls, row: ProcessInstance) -> InstanceFacts:
        return cls(row.id, row.business_key, row.process_key, row.practice, row.started_by, row.status)


@dataclass(frozen=True)
class TaskFacts:
    """A task and the separation-of-duties verdict for the user acting on it."""

    task: TaskView
    requester: str
    barred_because: str | None  # why the acting user may not act on it, if a duty rule bars them

    @property
    def practice(self) -> str:
        return self.task.practice


@dataclass(frozen=True)
class ExternalTaskFacts:
    """An external task a worker (with its user's token) wants to complete, fail or keep locked."""

    task: ExternalTaskView

    @property
    def practice(self) -> str:
        return self.task.practice


Facts = ProcessFacts | InstanceFacts | TaskFacts | ExternalTaskFacts | TaskView
"""What the engine hands the policy hook: the facts of the resource a command (or a read) acts on."""


@dataclass(frozen=True)
class AssigneeFacts(TaskFacts):
    """The user a task is being assigned to, with the separation-of-duties verdict for them."""

    assignee: str = ""
