"""An instance loaded by a command, and how its workflow's state is written back to the tables.

After every command the tables mirror the workflow: the state text, the data snapshot, the status, the
next timer, the open human tasks (with their assignees and separation-of-duties bars) and the message
subscriptions. Queries read those tables and never deserialize a workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy.orm.attributes import flag_modified

from engine.context import SYSTEM_ACTOR, CommandContext
from engine.errors import Conflict, NotFound
from engine.models import ExternalTask, HumanTask, Incident, ProcessInstance
from engine.runtime import IncidentInfo, LiveWorkflow, ReadyTask
from engine.specs import REQUESTER, ProcessBundle, TaskMeta
from engine.states import EventType, ExternalTaskStatus, InstanceStatus, TaskStatus
from engine.store import LIVE_TASK
from engine.timers import duration_from
from engine.views import InstanceFacts, InstanceView, TaskFacts, TaskView


class Execution:
    """One instance within one command: its locked row, its parsed version and (on demand) its workflow."""

    def __init__(self, ctx: CommandContext, instance: ProcessInstance, bundle: ProcessBundle,
                 workflow: LiveWorkflow | None = None) -> None:
        self.ctx = ctx
        self.instance = instance
        self.bundle = bundle
        self._workflow = workflow
        self.completed_elements: list[tuple[str, str]] = []  # (element id, completer) in this command
        self.closed_tasks: list[tuple[str, bool]] = []  # (task id, has duty rules) completed in this command
        self._live: list[Any] | None = None  # the live task rows, once this command has synced them
        self._ready_tasks: list[ReadyTask] | None = None

    # -- loading -----------------------------------------------------------------------------------

    @classmethod
    def lock(cls, ctx: CommandContext, instance_id: int, *, with_state: bool = True) -> Execution:
        """Lock the instance's row for this transaction. The workflow is deserialized only when needed;
        commands that never need it (claims, assignments) skip reading its state at all."""
        execution = cls.try_lock(ctx, instance_id, with_state=with_state)
        if execution is None:
            raise NotFound(f"Instance {instance_id} does not exist.")
        return execution

    @classmethod
    def try_lock(cls, ctx: CommandContext, instance_id: int, *, with_state: bool = True,
                 skip_locked: bool = False) -> Execution | None:
        """As ``lock``, but None when the instance does not exist (or, with ``skip_locked``, is busy)."""
        instance = ctx.store.get_instance(instance_id, lock=True, with_state=with_state, skip_locked=skip_locked)
        if instance is None:
            return None
        return cls(ctx, instance, ctx.engine.bundle(ctx.store, instance.version_id))

    @classmethod
    def create(cls, ctx: CommandContext, instance: ProcessInstance, bundle: ProcessBundle,
               data: dict[str, Any]) -> Execution:
        workflow = BpmnWorkflow(bundle.spec, dict(bundle.subprocess_specs),
                                script_engine=ctx.script_engine(instance.business_key, instance.practice))
        workflow.task_tree.data.update(data)
        return cls(ctx, instance, bundle, LiveWorkflow(workflow, bundle, time_budget=ctx.engine.command_time_limit))

    @property
    def live(self) -> LiveWorkflow:
        if self._workflow is None:
            script_engine = self.ctx.script_engine(self.instance.business_key, self.instance.practice)
            workflow = self.ctx.engine.codec.loads(self.instance.state, self.bundle, script_engine)
            self._workflow = LiveWorkflow(workflow, self.bundle, time_budget=self.ctx.engine.command_time_limit)
        return self._workflow

    def facts(self) -> InstanceFacts:
        return InstanceFacts.of(self.instance)

    def task_row(self, task_id: str, first_read: Any, *, plain: bool = False) -> Any:
        """The task's row as committed now that we hold the instance lock (not a stale earlier read): an ORM
        object, or with ``plain`` a read-only row (``store.task_row``)."""
        store = self.ctx.store
        if store.reads_under_write_lock:
            row = first_read
        else:
            row = store.task_row(task_id) if plain else store.get_task(task_id, fresh=True)
        if row is None or row.instance_id != self.instance.id:
            raise NotFound(f"Task {task_id} does not exist.")
        return row

    def task_facts(self, row: HumanTask) -> TaskFacts:
        # Only tasks with separation-of-duties rules can bar anyone; the others need no lookup.
        barred = self.ctx.store.exclusion(row.id, self.ctx.actor) if row.separation else None
        return TaskFacts(TaskView.of(row), self.instance.started_by, barred)

    def require_status(self, *allowed: InstanceStatus) -> None:
        status = self.instance.status
        if status not in allowed:
            raise Conflict(f"{self.instance.business_key} is {status.value}; this needs it to be "
                           f"{' or '.join(s.value for s in allowed)}.", status=status.value)

    # -- audit -------------------------------------------------------------------------------------

    def event(self, type: EventType, *, task_id: str | None = None, actor: str | None = None, **data: Any) -> None:
        self.ctx.store.add_event(at=self.ctx.now, actor=actor or self.ctx.actor, type=type,
                                 instance_id=self.instance.id, task_id=task_id, data=data)

    def touch(self) -> None:
        """Mark the instance changed (bumps its revision) for commands that change only its tasks."""
        self.instance.updated_at = self.ctx.now
        # Setting the same time again is no change to SQLAlchemy, and no UPDATE would bump the revision.
        flag_modified(self.instance, "updated_at")

    # -- saving ------------------------------------------------------------------------------------

    def save(self, incident: IncidentInfo | None = None, *, status: InstanceStatus | None = None) -> None:
        """Write the workflow back and make every mirror table agree with it."""
        live_workflow, row, now = self.live, self.instance, self.ctx.now
        for element_id in live_workflow.fired_timers:  # timers are nobody's doing, even when a command set them off
            self.event(EventType.TIMER_FIRED, actor=SYSTEM_ACTOR, element_id=element_id)
        if incident is not None:
            self._record_incident(incident)
            status = InstanceStatus.ERROR
        elif status is None:
            status = self._derived_status(live_workflow)
            if status is InstanceStatus.WAITING:
                stalled = live_workflow.stalled()
                if stalled is not None:  # nothing from outside can move it on: say so instead of waiting forever
                    self._record_incident(stalled)
                    status = InstanceStatus.ERROR
        if status not in (InstanceStatus.ERROR,):
            live_workflow.compact()
        row.state = self.ctx.engine.codec.dumps(live_workflow.workflow)
        row.serializer_version = self.ctx.engine.codec.version  # a migrated state is saved in today's format
        row.data = live_workflow.data()
        row.status = status
        self.touch()
        row.next_timer_at = live_workflow.next_timer_at() if status.is_active else None
        if status.is_final and row.ended_at is None:
            row.ended_at = now
            if status is InstanceStatus.COMPLETED:
                self.event(EventType.INSTANCE_COMPLETED, steps=live_workflow.steps[-50:])
        self._sync_tasks(live_workflow, status)
        if self.bundle.external_tasks:
            self._sync_external(live_workflow, status)
        if not self.bundle.has_messages:
            return
        if status.is_active:
            self.ctx.store.replace_subscriptions(row.id, live_workflow.subscriptions())
        else:
            self.ctx.store.clear_subscriptions(row.id)

    def _derived_status(self, live_workflow: LiveWorkflow) -> InstanceStatus:
        if self.instance.status is InstanceStatus.SUSPENDED:
            return InstanceStatus.SUSPENDED
        if live_workflow.is_finished():
            return InstanceStatus.COMPLETED
        return InstanceStatus.RUNNING if self._ready(live_workflow) else InstanceStatus.WAITING

    def _ready(self, live_workflow: LiveWorkflow) -> list[ReadyTask]:
        """The ready user tasks, read off the workflow once per save (it is a walk of the task tree)."""
        if self._ready_tasks is None:
            self._ready_tasks = live_workflow.ready_human_tasks()
        return self._ready_tasks

    def record_incident(self, incident: IncidentInfo) -> None:
        """Stop the instance with an incident without running it (the workflow stays as it was saved)."""
        row = self.instance
        self._record_incident(incident)
        row.status, row.next_timer_at = InstanceStatus.ERROR, None
        self.touch()
        self.ctx.store.set_task_status(row.id, TaskStatus.SUSPENDED)
        self.ctx.store.clear_subscriptions(row.id)

    def _record_incident(self, incident: IncidentInfo) -> None:
        self.ctx.store.add(Incident(
            instance_id=self.instance.id, task_id=incident.task_id, element_id=incident.element_id,
            error_type=incident.error_type, message=incident.message, line=incident.line,
            created_at=self.ctx.now,
        ))
        self.event(EventType.ERROR, task_id=incident.task_id, element_id=incident.element_id,
                   error_type=incident.error_type, message=incident.message, line=incident.line)

    def _sync_tasks(self, live_workflow: LiveWorkflow, status: InstanceStatus) -> None:
        ready = {task.id: task for task in self._ready(live_workflow)} if not status.is_final else {}
        task_status = TaskStatus.OPEN if status is InstanceStatus.RUNNING else TaskStatus.SUSPENDED
        store = self.ctx.store
        # Plain rows, and only the changes written back: the ORM's unit of work cost more than the rest of a
        # completion. Tasks this command closed are still open in the table until its objects are flushed.
        closed_now = {task_id for task_id, _has_rules in self.closed_tasks}
        live: list[Any] = [task for task in store.live_task_rows(self.instance.id) if task.id not in closed_now]
        known = {task.id for task in live}
        changed = {}
        for number, task in enumerate(live):
            new_status = task_status if task.id in ready else TaskStatus.CANCELLED  # withdrawn: moved on
            if new_status is not task.status:
                changed[task.id] = new_status
                live[number] = task._replace(status=new_status)
        store.set_task_statuses(changed)
        closed = [task.id for task in live if task.status not in LIVE_TASK and task.separation]
        closed += [task_id for task_id, has_rules in self.closed_tasks if has_rules]
        store.forget_exclusions(closed)
        for ready_task in ready.values():
            if ready_task.id not in known:
                live.append(self._open_task(ready_task, task_status))
        for element_id, completer in self.completed_elements:
            for task in live:
                if element_id in task.separation and task.status in LIVE_TASK:
                    reason = (self._once_reason(self.bundle.tasks[element_id].title, completer)
                              if element_id == task.element_id
                              else self._bar_reason(task.title, completer, element_id))
                    store.add_exclusions(task.id, {completer: reason})
        self._live = [task for task in live if task.status in LIVE_TASK]

    def _sync_external(self, live_workflow: LiveWorkflow, status: InstanceStatus) -> None:
        """The open external-task rows are exactly the ready external service tasks.

        Rows stay open while the instance is suspended or stopped by an incident (the queue skips inactive
        instances); a row that failed for good opens again once a retry readies its task again.
        """
        ready = {task.id: task for task in live_workflow.ready_external_tasks()} if not status.is_final else {}
        store, row = self.ctx.store, self.instance
        # Rows this command finished are not flushed yet: the query still returns them.
        existing = {task.id: task for task in store.unfinished_external_tasks(row.id)
                    if task.status in (ExternalTaskStatus.OPEN, ExternalTaskStatus.FAILED)}
        for task_id, task in existing.items():
            if task_id not in ready:
                task.status = ExternalTaskStatus.CANCELLED
            elif task.status is ExternalTaskStatus.FAILED and status is not InstanceStatus.ERROR:
                task.status, task.retries, task.retry_at = ExternalTaskStatus.OPEN, None, None
                task.worker_id = task.locked_by = task.lock_expires_at = None
        for task_id, ready_task in ready.items():
            if task_id in existing:
                continue
            meta = ready_task.meta
            store.add(ExternalTask(
                id=task_id, instance_id=row.id, business_key=row.business_key, process_key=row.process_key,
                practice=row.practice, element_id=meta.element_id, title=meta.title, topic=meta.topic or "",
                role=meta.role or "", status=ExternalTaskStatus.OPEN, created_at=self.ctx.now,
            ))

    def _open_task(self, ready: ReadyTask, status: TaskStatus) -> HumanTask:
        meta, row, store = ready.meta, self.instance, self.ctx.store
        task = HumanTask(
            id=ready.id, instance_id=row.id, business_key=row.business_key, process_key=row.process_key,
            element_id=meta.element_id, title=_titled(meta.title, ready.item), role=meta.role or "",
            practice=row.practice,
            status=status, assignee=self._assignee(meta), due_at=self._due_at(ready, meta),
            form_key=meta.form_key, instructions=meta.instructions, separation=list(meta.separation),
            created_at=self.ctx.now,
        )
        barred = self._exclusions(meta)
        if meta.output_item is not None:
            # An instance of a multi-instance task: one person completes at most one instance (a CAB member
            # votes once). Naming its own element makes each completion bar the completer from the
            # instances still open (see _sync_tasks); instances opened later are barred here.
            task.separation = [*task.separation, meta.element_id]
            for sibling in self.live.siblings(ready.id):
                done = store.get_task(sibling)
                if done is not None and done.completed_by:
                    barred.setdefault(done.completed_by, self._once_reason(meta.title, done.completed_by))
        store.insert_task(task)  # written now, not by the unit of work: see _sync_tasks
        if barred:
            store.add_exclusions(task.id, barred)
        return task

    def _assignee(self, meta: TaskMeta) -> str | None:
        if meta.assign_to is None:
            return None
        if meta.assign_to == REQUESTER:
            return self.instance.started_by
        completers = self._completers([meta.assign_to])[meta.assign_to]
        return completers[-1] if completers else None

    def _due_at(self, ready: ReadyTask, meta: TaskMeta) -> datetime | None:
        moments = [ready.due_at] if ready.due_at is not None else []
        if meta.due_in:
            moments.append(self.ctx.now + duration_from(meta.due_in, self.ctx.now))
        return min(moments) if moments else None

    def _exclusions(self, meta: TaskMeta) -> dict[str, str]:
        barred: dict[str, str] = {}
        elements = [rule for rule in meta.separation if rule != REQUESTER]
        for element_id, users in self._completers(elements).items():
            for user in users:
                barred.setdefault(user, self._bar_reason(meta.title, user, element_id))
        if REQUESTER in meta.separation:
            requester = self.instance.started_by
            barred[requester] = (f"Separation of duties: {requester} requested {self.instance.business_key} "
                                 f"and may not also do '{meta.title}'.")
        return barred

    def _completers(self, element_ids: list[str]) -> dict[str, list[str]]:
        found = self.ctx.store.completers(self.instance.id, element_ids)
        for element_id, user in self.completed_elements:  # completions of this command are not flushed yet
            if element_id in found and user not in found[element_id]:
                found[element_id].append(user)
        return found

    def _once_reason(self, title: str, user: str) -> str:
        return (f"Separation of duties: {user} already completed an instance of '{title}' in "
                f"{self.instance.business_key}; each instance needs another person.")

    def _bar_reason(self, title: str, user: str, element_id: str) -> str:
        other = self.bundle.tasks.get(element_id)
        other_title = other.title if other is not None else element_id
        return (f"Separation of duties: {user} completed '{other_title}' in {self.instance.business_key} "
                f"and may not also do '{title}'.")

    # -- reading back ------------------------------------------------------------------------------

    def view(self) -> InstanceView:
        store = self.ctx.store
        incident = None
        if self.instance.status is InstanceStatus.ERROR:
            store.flush()  # the incident row needs its id
            incident = store.open_incident(self.instance.id)
        tasks = self._live if self._live is not None else store.live_tasks(self.instance.id)
        waiting: list[dict[str, Any]] = []
        if self.instance.status is InstanceStatus.WAITING:
            store.flush()  # the rows this command wrote (external tasks, subscriptions)
            waiting = store.waiting_reasons(self.instance)
        return InstanceView.of(self.instance, self.bundle.version_number, tasks, incident, waiting)


def _titled(title: str, item: str | None) -> str:
    """A multi-instance task's title names its item ("Vote (maria)"), within the column's length."""
    if item is None:
        return title
    return f"{title} ({item})"[: HumanTask.title.type.length]
