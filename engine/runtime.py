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
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
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
        self.fired_timers: list[str] = []  # element ids of the timers that fired in this command
        self._final_data: dict[str, Any] | None = None  # the data as it was when the instance was cancelled

    # -- moving on ---------------------------------------------------------------------------------

    def advance(self) -> IncidentInfo | None:
        """Run engine steps until only people, timers or messages can move the instance on."""
        budget = [STEP_BUDGET]

        def after_step(task: Any) -> None:
            if task.task_spec.bpmn_id is not None:
                self.steps.append(task.task_spec.bpmn_id)
                definition = getattr(task.task_spec, "event_definition", None)
                # A cycle finishing is not a firing; its occurrences are noted by fire_timers.
                is_cycle = isinstance(definition, CycleTimerEventDefinition)
                if isinstance(definition, TimerEventDefinition) and not is_cycle:
                    self.fired_timers.append(task.task_spec.bpmn_id)  # due already, or fired by the worker
            budget[0] -= 1
            if budget[0] <= 0:
                raise RunawayProcess(f"more than {STEP_BUDGET} automatic steps in one go; is there an "
                                     "endless loop?", task_spec=task.task_spec)
            if task.depth > COMPACT_DEPTH:
                compact(self.workflow)

        while True:
            budget_before = budget[0]
            incident = self._guard(lambda: self.workflow.do_engine_steps(did_complete_task=after_step))
            stranded = self._stranded()
            if incident is not None or not stranded:
                return incident
            if budget[0] == budget_before:
                break  # a round that ran nothing will not do better next time
            # Left ready: a timer that fell due in the library's last refresh (a worker catching up on a
            # cycle), or tasks beyond the library's iterator depth limit (1000), which a shallower tree
            # lets the next round see.
            compact(self.workflow)
        return IncidentInfo(
            task_id=str(stranded[0].id), element_id=stranded[0].task_spec.bpmn_id, error_type="Stalled",
            message="SpiffWorkflow left this task ready without running it (its task tree is too deep to "
                    "walk); the instance would otherwise wait forever.", line=None,
        )

    def _stranded(self) -> list[Any]:
        """Automatic tasks left ready after the engine steps: the library did not see them."""
        return [task for task in self.workflow.get_tasks(state=TaskState.READY, max_depth=_UNLIMITED)
                if not task.task_spec.manual]

    def complete_task(self, task_id: str, data: dict[str, Any]) -> IncidentInfo | None:
        """Complete a ready user task with validated form data, then run on."""
        task = self.workflow.get_task_from_id(UUID(task_id))
        task.data.update(data)
        return self._guard(task.run) or self.advance()

    def fire_timers(self) -> IncidentInfo | None:
        """Let every due timer fire and run on (``fired_timers`` says which fired)."""
        before = {task.id: (task, repr(task._get_internal_data("event_value"))) for task in self._waiting_timers()}
        incident = self._guard(self.workflow.refresh_timers)
        # A timer that fires becomes ready and the steps below run it (``after_step`` notes it). A cycle
        # timer fires without finishing: it stays waiting with its next occurrence, so note it here.
        self.fired_timers += [task.task_spec.bpmn_id for task, value in before.values()
                              if task.has_state(TaskState.WAITING)
                              and repr(task._get_internal_data("event_value")) != value]
        return incident or self.advance()

    def retry(self, task_id: str | None, data: dict[str, Any], *, completed_by_person: bool = False
              ) -> IncidentInfo | None:
        """Run the failed task again, after merging corrected data into it.

        ``completed_by_person``: the task is a user task a person completed before it failed (in its
        post-script), so the retry completes it again instead of reopening it.
        """
        task = self._task(task_id)
        if task is None:
            # No task failed: the instance stopped between steps (its timers failed to fire, say), so go
            # on from where it was, firing what fell due meanwhile.
            return self.fire_timers()
        if task.has_state(TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            task.data.update(data)
            return self.advance()
        # In ERROR (a script failed), COMPLETED (its post-script failed) or still FUTURE (an event whose
        # timer expression failed while it was being readied): reset it, which readies it again.

        def rerun() -> None:
            before = dict(task.data)  # includes what a person submitted, which the reset would drop
            if task.parent is not None:
                # The reset re-inherits the parent's data, parent values winning, and a pre-script runs
                # during the reset: only corrections made on the parent reach it.
                task.parent.data.update(data)
            self.workflow.reset_from_task_id(task.id)
            task.data.update({**before, **data})
            if completed_by_person and task.has_state(TaskState.READY):
                task.run()

        return self._guard(rerun) or self.advance()

    def cancel(self) -> None:
        # Cancelling finishes every branch whose data ``data()`` reads, so keep what people last saw.
        self._final_data = self.data()
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
            message=_message(error),
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
        if self._final_data is not None:
            return self._final_data
        if self.is_finished():
            merged = dict(self.workflow.data)
        else:
            merged = {}
            live = [task for task in self.workflow.tasks.values()
                    if task.has_state(TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR)]
            for task in sorted(live, key=lambda t: t.last_state_change):
                # A join waiting for other branches has not taken its branch's data yet; its parent holds it.
                waiting_join = isinstance(task.task_spec, UnstructuredJoin) and task.has_state(TaskState.WAITING)
                merged.update(task.parent.data if waiting_join and task.parent is not None else task.data)
            if not live and self.workflow.last_task is not None:
                merged.update(self.workflow.last_task.data)
        merged.pop("data_objects", None)
        return json_ready(merged)


def _message(error: Exception) -> str:
    """The error's text and notes. SpiffWorkflow's own ``str()`` fails when a note is None, which it adds
    for NameErrors it cannot suggest a name for (``UnboundLocalError``, ``__build_class__ not found``)."""
    notes = [str(note) for note in getattr(error, "notes", None) or [] if note and str(note).strip()]
    head = str(error.args[0]) if error.args else type(error).__name__
    return ". ".join([head, *(note.strip() for note in notes)])


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
