"""Driving one loaded workflow during a command: run it on, and read off what the tables must mirror.

Nothing here touches the database; ``engine.execution`` persists what this module computes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.compaction import compact
from engine.specs import ProcessBundle, TaskMeta
from engine.timers import due_at

# Automatic steps one command may take before the engine calls it a runaway loop.
STEP_BUDGET = 20_000
# Compact in the middle of a long automatic run, long before the library's iterator depth limit (1000).
COMPACT_DEPTH = 150
_UNLIMITED = 1 << 30


@dataclass(frozen=True)
class IncidentInfo:
    """Where and why the engine stopped."""

    task_id: str | None
    element_id: str | None
    error_type: str
    message: str
    line: int | None


@dataclass(frozen=True)
class ReadyTask:
    """A user task that is ready for people."""

    id: str
    meta: TaskMeta
    due_at: datetime | None


class RunawayProcess(WorkflowException):
    """The process took more automatic steps than one command allows: most likely an endless loop."""


class Run:
    """A workflow being advanced by one command."""

    def __init__(self, workflow: BpmnWorkflow, bundle: ProcessBundle) -> None:
        self.workflow = workflow
        self.bundle = bundle
        self.steps: list[str] = []  # element ids of the automatic tasks run, in order

    # -- moving on ---------------------------------------------------------------------------------

    def advance(self) -> IncidentInfo | None:
        """Run engine steps until only people, timers or messages can move the instance on."""
        budget = [STEP_BUDGET]

        def after_step(task: Any) -> None:
            if task.task_spec.bpmn_id is not None:
                self.steps.append(task.task_spec.bpmn_id)
            budget[0] -= 1
            if budget[0] <= 0:
                raise RunawayProcess(f"more than {STEP_BUDGET} automatic steps in one go; is there an "
                                     "endless loop?", task_spec=task.task_spec)
            if task.depth > COMPACT_DEPTH:
                compact(self.workflow)

        return self._guard(lambda: self.workflow.do_engine_steps(did_complete_task=after_step))

    def complete_task(self, task_id: str, data: dict[str, Any]) -> IncidentInfo | None:
        """Complete a ready user task with validated form data, then run on."""
        task = self.workflow.get_task_from_id(UUID(task_id))
        task.data.update(data)
        return self._guard(task.run) or self.advance()

    def fire_timers(self) -> tuple[list[str], IncidentInfo | None]:
        """Let every due timer fire and run on; return the element ids of the timers that fired."""
        before = {task.id: (task, repr(task._get_internal_data("event_value"))) for task in self._waiting_timers()}
        # A timer that fires only becomes ready; the engine steps after it move the process on.
        incident = self._guard(self.workflow.refresh_timers) or self.advance()
        fired = [task.task_spec.bpmn_id for task, value in before.values()
                 if task._get_internal_data("event_fired", False)
                 or repr(task._get_internal_data("event_value")) != value]
        return fired, incident

    def retry(self, task_id: str | None, data: dict[str, Any]) -> IncidentInfo | None:
        """Run the failed task again, after merging corrected data into it."""
        task = self._task(task_id)
        if task is not None and task.has_state(TaskState.ERROR | TaskState.COMPLETED):
            corrected = {**task.data, **data}
            self.workflow.reset_from_task_id(task.id, data=corrected)
        elif task is not None:
            task.data.update(data)
        return self.advance()

    def cancel(self) -> None:
        self.workflow.cancel()

    def compact(self) -> int:
        return compact(self.workflow)

    def _guard(self, action: Any) -> IncidentInfo | None:
        try:
            action()
        except WorkflowTaskException as error:
            return self._incident(error.task, error, getattr(error, "line_number", None))
        except SpiffWorkflowException as error:
            task_spec = getattr(error, "task_spec", None)
            task = self._find_error_task(task_spec)
            return self._incident(task, error, None, element_id=getattr(task_spec, "bpmn_id", None))
        return None

    def _incident(self, task: Any, error: Exception, line: int | None,
                  element_id: str | None = None) -> IncidentInfo:
        original = getattr(error, "__cause__", None) or error
        error_type = getattr(error, "error_type", None)
        if not error_type or error_type == "unknown":
            error_type = type(original).__name__
        return IncidentInfo(
            task_id=str(task.id) if task is not None else None,
            element_id=(task.task_spec.bpmn_id if task is not None else element_id),
            error_type=error_type,
            message=str(error),
            line=line or None,
        )

    def _find_error_task(self, task_spec: Any) -> Any:
        for task in self.workflow.get_tasks(state=TaskState.ERROR, max_depth=_UNLIMITED):
            if task_spec is None or task.task_spec is task_spec:
                return task
        return None

    def _task(self, task_id: str | None) -> Any:
        if task_id is None:
            return None
        try:
            return self.workflow.get_task_from_id(UUID(task_id))
        except WorkflowException:
            return None

    # -- what the tables mirror --------------------------------------------------------------------

    def is_finished(self) -> bool:
        """Completed for real: the library's own check stops at its iterator depth limit, ours does not."""
        if not self.workflow.is_completed():
            return False
        unfinished = TaskIterator(self.workflow.task_tree, state=TaskState.NOT_FINISHED_MASK,
                                  max_depth=_UNLIMITED)
        return next(unfinished, None) is None

    def ready_human_tasks(self) -> list[ReadyTask]:
        ready = []
        for task in self.workflow.get_tasks(state=TaskState.READY, manual=True, max_depth=_UNLIMITED):
            meta = self.bundle.tasks.get(task.task_spec.bpmn_id)
            if meta is not None:
                ready.append(ReadyTask(str(task.id), meta, self._boundary_due_at(task)))
        return ready

    def _boundary_due_at(self, task: Any) -> datetime | None:
        """When the earliest timer attached to the task (an SLA) fires, if it has one."""
        parent = task.parent
        if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
            return None
        moments = [due_at(sibling._get_internal_data("event_value")) for sibling in parent.children
                   if isinstance(getattr(sibling.task_spec, "event_definition", None), TimerEventDefinition)
                   and sibling.has_state(TaskState.WAITING)]
        moments = [moment for moment in moments if moment is not None]
        return min(moments) if moments else None

    def _waiting_timers(self) -> list[Any]:
        return [task for task in self.workflow.event_manager.tasks.values()
                if isinstance(task.task_spec.event_definition, TimerEventDefinition)
                and task.has_state(TaskState.WAITING)]

    def next_timer_at(self) -> datetime | None:
        moments = [due_at(task._get_internal_data("event_value")) for task in self._waiting_timers()]
        moments = [moment for moment in moments if moment is not None]
        return min(moments) if moments else None

    def waiting_messages(self) -> list[tuple[Any, Any]]:
        """(task, message definition) for every message catch event that is waiting."""
        return [(task, task.task_spec.event_definition)
                for task in self.workflow.event_manager.tasks.values()
                if isinstance(task.task_spec.event_definition, MessageEventDefinition)
                and task.has_state(TaskState.WAITING)]

    def subscriptions(self) -> set[tuple[str, str]]:
        """(message name, correlation) per waiting message event, valued from the instance's data."""
        environment = self.workflow.script_engine.environment
        wanted = set()
        for task, definition in self.waiting_messages():
            values = {}
            for prop in definition.correlation_properties:
                try:
                    values[prop.name] = environment.evaluate(prop.retrieval_expression, task.data)
                except Exception:  # noqa: BLE001 - no value yet means "not correlatable by this property"
                    continue
            wanted.add((definition.name, canonical_json(values)))
        return wanted

    def data(self) -> dict[str, Any]:
        """The process data as people see it: the latest values along every live branch."""
        if self.workflow.is_completed():
            merged = dict(self.workflow.data)
        else:
            merged = {}
            live = [task for task in self.workflow.tasks.values()
                    if task.has_state(TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR)]
            for task in sorted(live, key=lambda t: t.last_state_change):
                merged.update(task.data)
            if not live and self.workflow.last_task is not None:
                merged.update(self.workflow.last_task.data)
        merged.pop("data_objects", None)
        return json_ready(merged)


def canonical_json(values: dict[str, Any]) -> str:
    """One spelling per set of correlation values, so equal values compare equal in SQL."""
    return json.dumps(json_ready(values), sort_keys=True, separators=(",", ":"))


def json_ready(value: Any) -> Any:
    """Process data as plain JSON (datetimes as ISO text), for columns and API bodies."""
    return json.loads(json.dumps(value, default=_encode))


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
