"""The engine's command listener: writes outbox rows in the transaction of the command that caused them.

It reads what the command wrote (``ctx.store.written``: new human tasks and audit events) and adds an
``OutboxEntry`` for each that should notify someone, plus the due-date alarms of new tasks. A task that opens while
its instance cannot be worked (suspended, or stopped by an incident) is nobody's work yet: it is noted as pending
(``PendingTask``) and announced by the command that makes it workable (resume, retry), once. It only adds rows:
whom to tell, how, and the sending are the worker's (``notifications.fanout`` and ``notifications.delivery``),
so a request pays one INSERT per notable event and never waits for a mail server.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import Table, bindparam, insert

from engine.context import CommandContext
from engine.models import Event, HumanTask, ProcessInstance
from engine.prepared import Prepared
from engine.specs import all_task_specs
from engine.states import EventType, TaskStatus
from notifications.kinds import Kind
from notifications.models import DueAlarm, OutboxEntry, PendingTask
from notifications.store import NotificationStore

DUE_SOON = timedelta(hours=4)  # how long before its due time a task counts as due soon

# Completions that mean a release went out or came back, by (practice, BPMN element id).
RELEASE_STEPS = {("release", "deploy_release"): Kind.RELEASE_DEPLOYED,
                 ("release", "roll_back_release"): Kind.RELEASE_ROLLED_BACK}
# A change's authorization is the completion of a task whose form answers ``authorization_decision``.
AUTHORIZATION_FIELD = "authorization_decision"
AUTHORIZATIONS = {"authorize": Kind.CHANGE_AUTHORIZED, "reject": Kind.CHANGE_REJECTED}
# After these an instance's tasks are workable again (resumed, retried) or gone (cancelled): its pending tasks are
# announced, or forgotten.
SETTLES_PENDING = frozenset({EventType.RESUMED, EventType.RETRIED, EventType.CANCELLED})


class OutboxWriter:
    """Called by the engine at the end of every command (``Engine.listen``)."""

    def __init__(self, *, due_soon: timedelta = DUE_SOON) -> None:
        self.due_soon = due_soon

    def __call__(self, ctx: CommandContext) -> None:
        written = ctx.store.written
        if not written:
            return
        settled: dict[int, None] = {}  # instances whose pending tasks to look at, in the order met
        for row in list(written):  # a copy: the engine's store may grow while we read (it does not, today)
            if isinstance(row, HumanTask):
                self._task_opened(ctx, row)
            elif isinstance(row, Event) and row.instance_id is not None:
                self._event(ctx, row)
                if row.type in SETTLES_PENDING:
                    settled[row.instance_id] = None
        for instance_id in settled:  # after the tasks this command opened: those were announced above
            self._announce_pending(ctx, instance_id)

    # -- new tasks ---------------------------------------------------------------------------------

    def _task_opened(self, ctx: CommandContext, task: HumanTask) -> None:
        if task.status is not TaskStatus.OPEN:
            # Opened in a suspended instance, or one an incident stopped: nobody's work yet. Told when it resumes.
            ctx.session.add(PendingTask(task_id=task.id, instance_id=task.instance_id, created_at=ctx.now))
            return
        self._announce(ctx, task)

    def _announce_pending(self, ctx: CommandContext, instance_id: int) -> None:
        """Announce the instance's pending tasks that are open now, and forget those that closed meanwhile. A task
        still suspended (a retry that stopped again) stays pending. Each is announced once: its note goes."""
        store = NotificationStore(ctx.session)
        pending = store.pending_tasks(instance_id)
        if not pending:
            return
        live = {task.id: task for task in ctx.store.live_task_rows(instance_id)}  # their status as of now
        for note in pending:
            task = live.get(note.task_id)
            if task is not None and task.status is not TaskStatus.OPEN:
                continue
            if task is not None:
                self._announce(ctx, task)
            store.delete(note)

    def _announce(self, ctx: CommandContext, task: HumanTask) -> None:
        """The task is open for its role (or its assignee): tell them, and set its due-date alarms."""
        kind = Kind.TASK_ASSIGNED if task.assignee else Kind.TASK_READY
        _add(ctx, kind, task.practice, task.instance_id, task.business_key, task_fields(task), task_id=task.id)
        if task.due_at is not None:
            ctx.session.add(DueAlarm(task_id=task.id, kind=Kind.TASK_DUE_SOON.value,
                                     at=max(task.due_at - self.due_soon, ctx.now)))
            ctx.session.add(DueAlarm(task_id=task.id, kind=Kind.TASK_OVERDUE.value, at=task.due_at))

    # -- audit events ------------------------------------------------------------------------------

    def _event(self, ctx: CommandContext, event: Event) -> None:
        if event.type is EventType.ASSIGNED:
            self._assigned(ctx, event)
        elif event.type is EventType.COMPLETED:
            self._completed(ctx, event)
        elif event.type is EventType.ERROR:
            instance = _instance(ctx, event)
            _add(ctx, Kind.INCIDENT, instance.practice, instance.id, instance.business_key,
                 {"process_key": instance.process_key, "element_id": event.data.get("element_id"),
                  "error_type": event.data.get("error_type"), "message": event.data.get("message")},
                 task_id=event.task_id)
        elif event.type is EventType.TIMER_FIRED:
            self._timer_fired(ctx, event)

    def _assigned(self, ctx: CommandContext, event: Event) -> None:
        assignee = event.data.get("assignee")
        if not assignee or assignee == ctx.actor or event.task_id is None:
            return  # unassigned, or claimed by themselves: nobody to tell
        task = ctx.store.get_task(event.task_id)
        if task is not None:
            _add(ctx, Kind.TASK_ASSIGNED, task.practice, task.instance_id, task.business_key, task_fields(task),
                 task_id=task.id)

    def _completed(self, ctx: CommandContext, event: Event) -> None:
        data = event.data.get("data") or {}
        element_id = event.data.get("element_id")
        decision = data.get(AUTHORIZATION_FIELD) if isinstance(data, dict) else None
        if decision not in AUTHORIZATIONS and not any(element_id == element for _p, element in RELEASE_STEPS):
            return  # the common case, decided without reading anything
        instance = _instance(ctx, event)
        kind = (AUTHORIZATIONS.get(decision) if instance.practice == "change" and isinstance(decision, str)
                else RELEASE_STEPS.get((instance.practice, element_id or "")))
        if kind is None:
            return
        _add(ctx, kind, instance.practice, instance.id, instance.business_key,
             {"process_key": instance.process_key, "element_id": element_id, "started_by": instance.started_by,
              "title": instance.data.get("title"), "decided_by": event.actor,
              "notes": data.get("authorization_notes") or data.get("rollback_notes") or data.get("deploy_notes")},
             task_id=event.task_id)

    def _timer_fired(self, ctx: CommandContext, event: Event) -> None:
        """A non-interrupting timer on a user task is an escalation deadline: tell the managers and owners."""
        instance = _instance(ctx, event)
        attached = _escalated_element(ctx, instance, str(event.data.get("element_id") or ""))
        if attached is None:
            return
        for task in ctx.store.live_tasks(instance.id):
            if task.element_id != attached or task.status is not TaskStatus.OPEN:
                continue
            fields = task_fields(task)
            fields["late_by_seconds"] = int((ctx.now - (task.due_at or task.created_at)).total_seconds())
            fields["waiting_seconds"] = int((ctx.now - task.created_at).total_seconds())
            fields["timer"] = event.data.get("element_id")
            _add(ctx, Kind.ESCALATION, instance.practice, instance.id, instance.business_key, fields,
                 task_id=task.id)


def task_fields(task: HumanTask) -> dict[str, Any]:
    """What a notification about a task says of it."""
    return {"title": task.title, "element_id": task.element_id, "role": task.role, "assignee": task.assignee,
            "process_key": task.process_key, "due_at": _iso(task.due_at), "opened_at": _iso(task.created_at)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _instance(ctx: CommandContext, event: Event) -> ProcessInstance:
    # The command loaded the instance: the session's identity map answers without a query.
    instance = ctx.session.get(ProcessInstance, event.instance_id)
    if instance is None:  # the event's foreign key forbids it
        raise LookupError(f"event {event.id} names instance {event.instance_id}, which does not exist")
    return instance


def _escalated_element(ctx: CommandContext, instance: ProcessInstance, timer_id: str) -> str | None:
    """The user task a non-interrupting boundary timer ``timer_id`` is attached to, else None."""
    bundle = ctx.engine.bundle(ctx.store, instance.version_id)
    for spec in all_task_specs(bundle.spec, bundle.subprocess_specs):
        if getattr(spec, "bpmn_id", None) != timer_id:
            continue
        if getattr(spec, "cancel_activity", True) or not isinstance(getattr(spec, "event_definition", None),
                                                                     TimerEventDefinition):
            return None
        for split in spec.inputs:  # the boundary events' split: its other output is the task they are on
            for sibling in split.outputs:
                bpmn_id = getattr(sibling, "bpmn_id", None)
                if bpmn_id and bpmn_id != timer_id and bpmn_id in bundle.tasks:
                    return str(bpmn_id)
        return None
    return None


def _add(ctx: CommandContext, kind: Kind, practice: str | None, instance_id: int | None, business_key: str | None,
         payload: dict[str, Any], *, task_id: str | None = None) -> None:
    # Written now on the command's connection, not staged for the unit of work: most commands that open a task
    # write one, and the ORM's flush cost more than the INSERT itself (bench/RESULTS.md, issue 16).
    _INSERT_ENTRY.rows(ctx.session.connection(), {
        "kind": kind.value, "practice": practice, "instance_id": instance_id, "business_key": business_key,
        "task_id": task_id, "actor": ctx.actor, "payload": payload, "created_at": ctx.now})


_INSERT_ENTRY = Prepared(insert(cast(Table, OutboxEntry.__table__)).values(
    {name: bindparam(name) for name in ("kind", "practice", "instance_id", "business_key", "task_id", "actor",
                                        "payload", "created_at")}))
