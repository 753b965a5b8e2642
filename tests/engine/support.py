"""Helpers for engine tests: deploy and start in one line, read the audit trail and the raw rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine import DeployVersion, Engine, EventType, PageRequest, StartInstance, TaskQuery, TaskStatus
from engine.models import HumanTask, Incident, ProcessInstance
from engine.scripting import ScriptEngine
from engine.store import Store
from engine.views import EventView, InstanceView, TaskView, VersionView
from tests.engine.builder import form

ALL_TASK_STATUSES = tuple(TaskStatus)
EVERYTHING = PageRequest(1, 10_000)

# Forms the test diagrams name; deployed with every test diagram (only those referenced are kept).
FORMS: dict[str, dict[str, Any]] = {
    "test/decide": form(
        {"name": "decision", "type": "enum", "choices": ["yes", "no"], "required": True},
        {"name": "note", "type": "string", "max_length": 20},
    ),
    "test/count": form({"name": "amount", "type": "integer", "min": 0, "required": True}),
    "test/schedule": form({"name": "wake_at", "type": "date-time", "required": True}),
    "test/escalate": form({"name": "escalation_note", "type": "string", "required": True}),
}

# An "approval" message correlated on the process variable change_ref (put before the process).
MESSAGES = """<bpmn:message id="msg_approval" name="approval"/>
<bpmn:correlationProperty id="change_ref" name="Change reference">
  <bpmn:correlationPropertyRetrievalExpression messageRef="msg_approval">
    <bpmn:messagePath>change_ref</bpmn:messagePath>
  </bpmn:correlationPropertyRetrievalExpression>
</bpmn:correlationProperty>
"""


def deploy(engine: Engine, bpmn: str, *, key: str = "proc", practice: str = "change", actor: str = "olivia",
           forms: Mapping[str, Any] | None = None, **options: Any) -> VersionView:
    """Deploy ``bpmn`` as a version of ``key`` and return it."""
    command = DeployVersion(key, practice, bpmn, forms=FORMS if forms is None else forms, **options)
    return engine.run(command, actor=actor).version


def start(engine: Engine, key: str = "proc", data: Mapping[str, Any] | None = None, *, actor: str = "alice",
          version: int | None = None) -> InstanceView:
    return engine.run(StartInstance(key, dict(data or {}), version), actor=actor)


def events(engine: Engine, instance_id: int) -> list[EventView]:
    return list(engine.list_events(instance_id, EVERYTHING).items)


def event_types(engine: Engine, instance_id: int) -> list[EventType]:
    return [event.type for event in events(engine, instance_id)]


def tasks_of(engine: Engine, instance_id: int, statuses: tuple[TaskStatus, ...] = ALL_TASK_STATUSES
             ) -> list[TaskView]:
    """Every human-task row of the instance (any status), oldest first."""
    query = TaskQuery(statuses=statuses, instance_id=instance_id)
    return list(engine.list_tasks(query, EVERYTHING).items)


def open_task(engine: Engine, instance_id: int, element_id: str | None = None) -> TaskView:
    """The one open task of the instance (at ``element_id`` when given)."""
    found = [task for task in tasks_of(engine, instance_id, (TaskStatus.OPEN,))
             if element_id is None or task.element_id == element_id]
    assert len(found) == 1, f"expected one open task {element_id or ''}, found {found}"
    return found[0]


def instance_row(engine: Engine, instance_id: int) -> ProcessInstance:
    """The raw ``process_instance`` row (state text, revision, serializer version)."""
    with engine.database.snapshot() as session:
        row = Store(session).get_instance(instance_id, with_state=True)
        assert row is not None
        return row


def human_task_rows(engine: Engine, instance_id: int) -> list[HumanTask]:
    with engine.database.snapshot() as session:
        statement = select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.created_at)
        return list(session.scalars(statement))


def incidents(engine: Engine, instance_id: int) -> list[Incident]:
    with engine.database.snapshot() as session:
        statement = select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id)
        return list(session.scalars(statement))


def ready_user_tasks(engine: Engine, instance_id: int) -> set[str]:
    """The ids of the ready user tasks in the instance's saved workflow (deserialized, as commands do)."""
    with engine.database.snapshot() as session:
        row = Store(session).get_instance(instance_id, with_state=True)
        bundle = engine.bundle(Store(session), row.version_id)
        workflow = engine.codec.loads(row.state, bundle, ScriptEngine(engine.sandbox))
    return {str(task.id) for task in workflow.get_tasks(state=TaskState.READY, manual=True)}


def assert_mirrors_workflow(engine: Engine, instance_id: int) -> None:
    """The task table's live rows are exactly the saved workflow's ready user tasks."""
    live = {task.id for task in tasks_of(engine, instance_id, (TaskStatus.OPEN, TaskStatus.SUSPENDED))}
    assert live == ready_user_tasks(engine, instance_id)


def without_layout_note(warnings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deploy warnings but the note that the engine drew a layout (the small test diagrams have none)."""
    return [warning for warning in warnings if "Changeflow drew them" not in warning["message"]]
