"""Driving one loaded workflow during a command: run it on, and read off what the tables must mirror.

Nothing here touches the database; ``engine.execution`` persists what this module computes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskIterator, TaskState
from sqlalchemy.exc import SQLAlchemyError

from engine.compaction import compact
from engine.specs import ProcessBundle, TaskMeta, event_definitions
from engine.timers import due_at

# Automatic steps one command may take before the engine calls it a runaway loop.
STEP_BUDGET = 20_000
# Wall time one command may spend running engine steps. A step count alone cannot stop steps that each
# get slower (a process that calls itself grows its task tree on every step), and a request must never
# hang: past this, the instance stops with an incident and the request answers.
TIME_BUDGET = 10.0
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
    item: str | None = None  # a multi-instance task's input item (the voter, the system), shown in its title


class RunawayProcess(WorkflowException):
    """The process took more automatic steps than one command allows: most likely an endless loop."""


def _boundary_timers(task: Any) -> Iterator[tuple[Any, datetime]]:
    """The waiting timers attached to ``task`` (boundary events), each with its spec and when it falls due."""
    parent = task.parent if task is not None else None
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return
    for sibling in parent.children:
        if (isinstance(getattr(sibling.task_spec, "event_definition", None), TimerEventDefinition)
                and sibling.has_state(TaskState.WAITING)):
            moment = due_at(sibling._get_internal_data("event_value"))
            if moment is not None:
                yield sibling.task_spec, moment


class LiveWorkflow:
    """A workflow being advanced by one command."""

    def __init__(self, workflow: BpmnWorkflow, bundle: ProcessBundle, *, time_budget: float = TIME_BUDGET) -> None:
        self.workflow = workflow
        self.bundle = bundle
        self.time_budget = time_budget
        self._deadline: float | None = None  # set when the command first runs engine steps
        self.steps: list[str] = []  # element ids of the automatic tasks run, in order
        self.fired_timers: list[str] = []  # element ids of the timers that fired in this command
        self._final_data: dict[str, Any] | None = None  # the data as it was when the instance was cancelled

    # -- moving on ---------------------------------------------------------------------------------

    def advance(self) -> IncidentInfo | None:
        """LiveWorkflow engine steps until only people, timers or messages can move the instance on."""
        budget = [STEP_BUDGET]
        if self._deadline is None:
            self._deadline = time.monotonic() + self.time_budget

        def after_step(task: Any) -> None:
            if task.task_spec.bpmn_id is not None:
                self.steps.append(task.task_spec.bpmn_id)
                definition = getattr(task.task_spec, "event_definition", None)
                # A cycle finishing is not a firing; its occurrences are noted by fire_timers.
                is_cycle = isinstance(definition, CycleTimerEventDefinition)
                if isinstance(definition, TimerEventDefinition) and not is_cycle:
                    self.fired_timers.append(task.task_spec.bpmn_id)  # due already, or fired by the worker
                elif isinstance(task.task_spec, EventBasedGateway):
                    self.fired_timers += _gateway_timers_fired(task)
            budget[0] -= 1
            if budget[0] <= 0:
                raise RunawayProcess(f"more than {STEP_BUDGET} automatic steps in one go; is there an "
                                     "endless loop?", task_spec=task.task_spec)
            if self._deadline is not None and time.monotonic() > self._deadline:
                raise RunawayProcess(f"the automatic steps ran longer than {self.time_budget:g} seconds in one "
                                     f"go ({STEP_BUDGET - budget[0]} steps); is there an endless loop or a "
                                     "process that calls itself?", task_spec=task.task_spec)
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

    def stalled(self) -> IncidentInfo | None:
        """Why a waiting instance can never move on, or None when a timer, a message or a worker can move it.

        Signals are thrown only within the instance, so one that waits for a signal with no other branch left
        to throw it waits forever; this names the events it waits for.
        """
        if self.next_timer_at() is not None or self.waiting_messages() or self.ready_external_tasks():
            return None
        waiting = [task for task in self.workflow.get_tasks(state=TaskState.WAITING, max_depth=_UNLIMITED)
                   if getattr(task.task_spec, "event_definition", None) is not None]
        if not waiting:
            return None
        names = ", ".join(f"'{task.task_spec.bpmn_id}' ({type(task.task_spec.event_definition).__name__})"
                          for task in waiting)
        first = waiting[0]
        return IncidentInfo(
            task_id=str(first.id), element_id=first.task_spec.bpmn_id, error_type="Stalled",
            message=f"The instance waits for {names}, and nothing left in it or outside it can set that off: no "
                    "timer, message or worker is due. Correct the diagram (or the data) and retry.", line=None,
        )

    def _stranded(self) -> list[Any]:
        """Automatic tasks left ready after the engine steps: the library did not see them."""
        return [task for task in self.workflow.get_tasks(state=TaskState.READY, max_depth=_UNLIMITED)
                if not task.task_spec.manual]

    def complete_task(self, task_id: str, data: dict[str, Any], *, completed_by: str | None = None
                      ) -> IncidentInfo | None:
        """Complete a ready user task with validated form data, then run on.

        An instance of a multi-instance task also sets its output item, which the library gathers into the
        output collection: the form's field of that name if it has one, else the whole submission with
        who completed it.
        """
        task = self.workflow.get_task_from_id(UUID(task_id))
        task.data.update(data)
        meta = self.bundle.tasks.get(task.task_spec.bpmn_id)
        if meta is not None and meta.output_item is not None:
            task.data[meta.output_item] = (data[meta.output_item] if meta.output_item in data
                                           else {**data, "completed_by": completed_by})
        return self._guard(task.run) or self.advance()

    def siblings(self, task_id: str) -> list[str]:
        """The other instances of the multi-instance task that ``task_id`` is an instance of."""
        task = self._task(task_id)
        if task is None or task.parent is None or not isinstance(task.parent.task_spec, MultiInstanceTask):
            return []
        return [str(child.id) for child in task.parent.children if child.id != task.id]

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
        """LiveWorkflow the failed task again, after merging corrected data into it.

        ``completed_by_person``: the task is a user task a person completed before it failed (in its
        post-script), so the retry completes it again instead of reopening it.
        """
        task = self._task(task_id)
        if task is None:
            # No task failed: the instance stopped between steps (a runaway, or timers that failed to fire).
            # The corrections go where the engine goes on from, the ready tasks, so that a fixed loop
            # condition is seen on the next pass; then it goes on, firing what fell due meanwhile.
            for ready in self.workflow.get_tasks(state=TaskState.READY, max_depth=_UNLIMITED):
                ready.data.update(data)
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
        except SQLAlchemyError:
            raise  # the database's trouble (a lost race, a lock timeout) is the executor's to answer, not the diagram's
        except Exception as error:  # noqa: BLE001 - the library's own crashes stop the instance, not the server
            # A KeyError or TypeError from inside the library (a multi-instance collection that is missing
            # or not a list, say): the task it was running is the one in the middle of changing state.
            task = self._crashed_task()
            return IncidentInfo(
                task_id=str(task.id) if task is not None else None,
                element_id=task.task_spec.bpmn_id if task is not None else None,
                error_type=type(error).__name__,
                message=_crash_message(task, error),
                line=None,
            )
        return None

    def _crashed_task(self) -> Any:
        """The task the library was running when it crashed: one in ERROR, else the first unfinished child of
        the task completed last (the library crashes while readying the next task)."""
        errored = self._find_error_task(None)
        if errored is not None:
            return errored
        completed = self.workflow.get_tasks(state=TaskState.COMPLETED, max_depth=_UNLIMITED)
        last = max(completed, key=lambda task: task.last_state_change, default=None)
        pending = [child for child in (last.children if last is not None else [])
                   if child.has_state(TaskState.NOT_FINISHED_MASK)]
        for task in pending:
            if task.task_spec.bpmn_id is not None:
                return task
        return pending[0] if pending else last

    def _incident(self, task: Any, error: Exception, line: int | None,
                  element_id: str | None = None) -> IncidentInfo:
        original = getattr(error, "__cause__", None) or error
        error_type = getattr(error, "error_type", None)
        if not error_type or error_type == "unknown":
            error_type = type(original).__name__
        message = _message(error)
        decision = getattr(task.task_spec, "decision_id", None) if task is not None else None
        if decision:
            message = f"{message} (decision '{decision}')"
        return IncidentInfo(
            task_id=str(task.id) if task is not None else None,
            element_id=(task.task_spec.bpmn_id if task is not None else element_id),
            error_type=error_type,
            message=message,
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
                ready.append(ReadyTask(str(task.id), meta, self._boundary_due_at(task), _input_item(task)))
        return ready

    def ready_external_tasks(self) -> list[ReadyTask]:
        """Service tasks that wait for a worker outside the engine."""
        ready = []
        for task in self.workflow.get_tasks(state=TaskState.READY, manual=True, max_depth=_UNLIMITED):
            meta = self.bundle.external_tasks.get(task.task_spec.bpmn_id)
            if meta is not None:
                ready.append(ReadyTask(str(task.id), meta, None))
        return ready

    def due_interruption(self, task_id: str, now: datetime) -> tuple[str, datetime] | None:
        """The name and due time of an interrupting timer on the task that fell due by ``now`` but has not fired
        yet (the worker has not come by), or None. Such a timer wins over a late completion: the task is over at
        its deadline."""
        task = self.workflow.get_task_from_id(UUID(task_id))
        for spec, moment in _boundary_timers(task):
            if getattr(spec, "cancel_activity", False) and moment <= now:
                return str(spec.bpmn_name or spec.bpmn_id), moment
        return None

    def _boundary_due_at(self, task: Any) -> datetime | None:
        """When the earliest timer attached to the task (an SLA) fires, if it has one."""
        return min((moment for _spec, moment in _boundary_timers(task)), default=None)

    def _waiting_timers(self) -> list[Any]:
        return [task for task in self.workflow.event_manager.tasks.values()
                if any(isinstance(definition, TimerEventDefinition)
                       for definition in event_definitions(task.task_spec))
                and task.has_state(TaskState.WAITING)]

    def next_timer_at(self) -> datetime | None:
        moments = [moment for task in self._waiting_timers()
                   if (moment := due_at(task._get_internal_data("event_value"))) is not None]
        return min(moments) if moments else None

    def waiting_messages(self) -> list[tuple[Any, Any]]:
        """(task, message definition) for every message catch event that is waiting, and for every message an
        event-based gateway waits for (the gateway waits, with the definitions of the events after it)."""
        return [(task, definition)
                for task in self.workflow.event_manager.tasks.values() if task.has_state(TaskState.WAITING)
                for definition in event_definitions(task.task_spec)
                if isinstance(definition, MessageEventDefinition)]

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
        ready: dict[str, Any] = json_ready(merged)
        return ready


def _message(error: Exception) -> str:
    """The error's text and notes. SpiffWorkflow's own ``str()`` fails when a note is None, which it adds
    for NameErrors it cannot suggest a name for (``UnboundLocalError``, ``__build_class__ not found``)."""
    notes = [str(note) for note in getattr(error, "notes", None) or [] if note and str(note).strip()]
    head = str(error.args[0]) if error.args else type(error).__name__
    return ". ".join([head, *(note.strip() for note in notes)])


def _input_item(task: Any) -> str | None:
    """The input item of an instance of a multi-instance task, when it is a plain value worth showing."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, MultiInstanceTask):
        return None
    item = parent.task_spec.input_item
    value = task.data.get(item.bpmn_id) if item is not None else None
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _crash_message(task: Any, error: Exception) -> str:
    """What an author can do about a crash inside the library, with the error's own words."""
    spec = getattr(task, "task_spec", None) if task is not None else None
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if spec is not None and getattr(spec, "data_input", None) is not None:
        name = getattr(spec.data_input, "bpmn_id", None) or getattr(spec.data_input, "name", "")
        return (f"The multi-instance task could not read its input collection '{name}' ({text}); it must be a "
                "list (or a dict, or a number) in the process data. Set it and retry.")
    return f"The engine could not run this element ({text}). Correct the data or the diagram and retry."


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


def _gateway_timers_fired(task: Any) -> list[str]:
    """The timer events after an event-based gateway that won it. The library moves the events of the gateway's
    targets onto the gateway itself, so the timer event that fires looks like a plain event: look it up here."""
    spec, fired = task.task_spec, []
    for child in task.children:
        if child.task_spec in spec.outputs:
            definition = spec.event_definition.event_definitions[spec.outputs.index(child.task_spec)]
            if isinstance(definition, TimerEventDefinition) and not isinstance(definition, CycleTimerEventDefinition):
                fired.append(child.task_spec.bpmn_id)
    return fired
