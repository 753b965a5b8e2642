"""Engine operations, one command each, each run in one transaction by ``Engine.run``.

Every ``execute`` follows the same order: validate the input, load through the store (locking the
instance), ask the policy (``ctx.authorize``), change state, write the audit event, return a plain view.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, ClassVar
from uuid import UUID

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from engine.context import Authorizer, CommandContext, allow_all
from engine.deployment import Deployable, prepare_deployment
from engine.errors import Conflict, FormInvalid, InvalidInput, NotFound
from engine.execution import Execution
from engine.models import ExternalTask, ProcessInstance, ProcessModel, ProcessVersion
from engine.runtime import IncidentInfo, canonical_json, json_ready
from engine.specs import ProcessBundle, all_task_specs, is_human_task, parse_process, task_meta
from engine.states import EventType, ExternalTaskStatus, InstanceStatus, TaskStatus
from engine.store import ALL_PRACTICES, LIVE_TASK, Store
from engine.views import (
    AssigneeFacts,
    CompletionView,
    DeployResult,
    EventView,
    ExternalTaskFacts,
    ExternalTaskView,
    InstanceFacts,
    InstanceSummary,
    InstanceView,
    ProcessFacts,
    TaskView,
    ValidationReport,
    VersionView,
)
from forms import FormDefinition, FormDefinitionError, FormValidationError, validate_submission

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
RESERVED_KEYS = frozenset({"validate"})  # /api/process-models/validate is the dry-run deploy
PRACTICE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")  # the practice columns hold 50 characters
ACTIVE = (InstanceStatus.RUNNING, InstanceStatus.WAITING)


def business_key_prefix(practice: str, prefixes: Mapping[str, str]) -> str:
    """The practice's prefix from ``prefixes`` (the application's), else its first three letters."""
    return prefixes.get(practice) or re.sub(r"[^A-Z]", "", practice.upper())[:3] or "PRC"


def validate_form(form: FormDefinition | None, data: Any, *, what: str,
                  choices: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """Validated form data, or ``FormInvalid`` with errors per field (``choices``: the server lists that
    ``choices_from`` fields pick from)."""
    if form is None:
        if data in (None, {}):
            return {}
        raise FormInvalid(f"{what} has no form, so it takes no data.",
                          errors={name: ["Unknown field."] for name in (data if isinstance(data, dict) else {})}
                          or {"data": ["Send no data."]})
    try:
        return validate_submission(form, data if data is not None else {}, choices)
    except FormValidationError as error:
        raise FormInvalid(f"The data does not match the form '{form.key}'.", errors=error.errors) from error


# -- deploying ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """What the deploy checks found, before the write transaction: the deployable, and the latest version they
    were made against (a deploy in between makes them stale)."""

    deployable: Deployable
    latest_id: int | None
    report: ValidationReport | None = None


@dataclass(frozen=True)
class _DeployInput:
    """A diagram to check. ``Engine.run`` calls ``prepare`` first, outside the write transaction: parsing and
    checking a diagram can take a second, and must not hold the write lock (on SQLite, the whole database's)
    meanwhile. ``execute`` then only re-checks, under the lock, that nothing changed."""

    key: str
    practice: str
    bpmn: str
    decisions: tuple[str, ...] | None = None  # None: reuse the latest version's decision tables
    forms: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    default_role: str | None = None  # the role of user tasks outside lanes (else practitioner)
    process_id: str | None = None  # the process to deploy, when the document has several
    prepared: _Prepared | None = field(default=None, compare=False, repr=False)

    def prepare(self, engine: Any, authorize: Authorizer) -> _DeployInput:
        """This command with the diagram checked, reading the database in a snapshot only."""
        with engine.database.snapshot() as session:
            store = Store(session)
            model, latest = self._model_and_latest(store, authorize)
            latest_forms = {key: dict(value) for key, value in (latest.forms if latest else {}).items()}
            latest_decisions = list(latest.decisions) if latest else []
            latest_id = latest.id if latest else None
        deployable = self._check(engine, latest_forms, latest_decisions)
        return replace(self, prepared=_Prepared(deployable, latest_id, self._report(engine, deployable)))

    def _model_and_latest(self, store: Store, authorize: Authorizer, *, lock: bool = False) -> tuple[Any, Any]:
        if not KEY_PATTERN.match(self.key) or self.key in RESERVED_KEYS:
            raise InvalidInput("Invalid process key.", errors={"key": [
                "Use 1 to 100 lowercase letters, digits, '-' or '_', starting with a letter (not 'validate')."]})
        if not PRACTICE_PATTERN.match(self.practice):
            raise InvalidInput("Invalid practice.", errors={"practice": [
                "Use a lowercase word like 'change' (at most 50 characters)."]})
        model = store.get_model(self.key, lock=lock)
        if model is not None and model.practice != self.practice:
            raise InvalidInput(f"The process '{self.key}' belongs to the practice '{model.practice}'.",
                               errors={"practice": [f"Must be '{model.practice}' for this process."]})
        authorize(ProcessFacts(self.key, self.practice))
        latest = store.latest_version(model.id) if model is not None else None
        return model, latest

    def _check(self, engine: Any, latest_forms: Mapping[str, dict[str, Any]],
               latest_decisions: list[str]) -> Deployable:
        decisions = list(self.decisions) if self.decisions is not None else latest_decisions
        uploaded = self._uploaded_forms()

        def find_form(key: str) -> FormDefinition | None:
            if key in uploaded:
                return uploaded[key]
            form = engine.find_form(key)
            if form is None and key in latest_forms:
                return FormDefinition.from_dict(key, latest_forms[key])
            return form if isinstance(form, FormDefinition) else None

        return prepare_deployment(self.key, self.bpmn, decisions, find_form=find_form,
                                  lane_roles=engine.lane_roles, services=engine.services,
                                  default_role=self.default_role, process_id=self.process_id)

    def _report(self, engine: Any, deployable: Deployable) -> ValidationReport | None:
        return None

    def _checked(self, ctx: CommandContext) -> tuple[Deployable, ProcessModel | None, _Prepared]:
        """Under the write lock: the model, and the checks made in ``prepare`` (made now if they were not)."""
        model, latest = self._model_and_latest(ctx.store, ctx.authorize, lock=True)
        prepared = self.prepared
        if prepared is None:  # executed without Engine.run's preparation
            prepared = self.prepare(ctx.engine, ctx.authorize).prepared
            assert prepared is not None
        elif prepared.latest_id != (latest.id if latest else None):
            raise Conflict(f"The process '{self.key}' got a new version while this diagram was being checked; "
                           "send it again.")
        return prepared.deployable, model, prepared

    def _uploaded_forms(self) -> dict[str, FormDefinition]:
        forms, errors = {}, {}
        for key, definition in self.forms.items():
            try:
                forms[key] = FormDefinition.from_dict(key, dict(definition))
            except FormDefinitionError as error:
                errors[f"forms.{key}"] = error.problems
        if errors:
            raise InvalidInput("Some uploaded forms are invalid.", errors=errors)
        return forms


@dataclass(frozen=True)
class DeployVersion(_DeployInput):
    """Deploy a BPMN document as the next version of a process model (or find the identical one)."""

    name: str | None = None
    comment: str | None = None

    def execute(self, ctx: CommandContext) -> DeployResult:
        deployable, model, _prepared = self._checked(ctx)
        store = ctx.store
        if model is None:
            model = ProcessModel(key=self.key, name=self.name or deployable.name, practice=self.practice,
                                 created_at=ctx.now)
            store.add(model, flush=True)
        elif self.name:
            model.name = self.name
        existing = store.version_with_hash(model.id, deployable.sha256)
        warnings = [problem.to_dict() for problem in deployable.warnings]
        if existing is not None:
            return DeployResult(VersionView.of(model, existing), created=False, warnings=warnings)
        latest = store.latest_version(model.id)
        version = ProcessVersion(
            model_id=model.id, number=(latest.number if latest else 0) + 1, process_id=deployable.process_id,
            bpmn_xml=deployable.bpmn_xml, decisions=deployable.decisions, forms=deployable.forms,
            sha256=deployable.sha256, start_role=deployable.start_role,
            start_form_key=deployable.start_form_key, deployed_by=ctx.actor, deployed_at=ctx.now,
            comment=self.comment, default_role=deployable.default_role,
        )
        store.add(version, flush=True)
        store.add_event(at=ctx.now, actor=ctx.actor, type=EventType.DEPLOYED, instance_id=None,
                        data={"process": model.key, "version": version.number, "sha256": version.sha256})
        return DeployResult(VersionView.of(model, version), created=True, warnings=warnings)


@dataclass(frozen=True)
class ValidateDeployment(_DeployInput):
    """Run every deploy check and store nothing."""

    def _report(self, engine: Any, deployable: Deployable) -> ValidationReport | None:
        bundle_tasks = []
        spec, subprocess_specs = parse_process(deployable.process_id, deployable.bpmn_xml, deployable.decisions)
        for task_spec in all_task_specs(spec, subprocess_specs):
            if is_human_task(task_spec):
                meta = task_meta(task_spec, engine.lane_roles, deployable.default_role)
                bundle_tasks.append({"element_id": meta.element_id, "title": meta.title, "role": meta.role,
                                     "role_source": meta.role_source.value, "form_key": meta.form_key,
                                     "separation_of_duties": list(meta.separation)})
        return ValidationReport(deployable.process_id, deployable.name, deployable.sha256,
                                sorted(deployable.forms), deployable.start_role, bundle_tasks,
                                [problem.to_dict() for problem in deployable.warnings])

    def execute(self, ctx: CommandContext) -> ValidationReport:
        _deployable, _model, prepared = self._checked(ctx)
        assert prepared.report is not None
        return prepared.report


@dataclass(frozen=True)
class RecordMigration:
    """Note on the audit trail that the schema moved between two revisions (who ran it is the actor)."""

    before: str | None
    after: str | None

    def execute(self, ctx: CommandContext) -> None:
        ctx.store.add_event(at=ctx.now, actor=ctx.actor, type=EventType.MIGRATED, instance_id=None,
                            data={"from": self.before, "to": self.after})


# -- instances ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartInstance:
    """Start an instance of a process (its latest version unless one is named) with initial data."""

    process: str
    data: Mapping[str, Any] = field(default_factory=dict)
    version: int | None = None

    def execute(self, ctx: CommandContext) -> InstanceView:
        store = ctx.store
        model, version = store.model_and_version(self.process, self.version)
        if model is None:
            raise NotFound(f"There is no process '{self.process}'.")
        if version is None:
            raise NotFound(f"The process '{self.process}' has no version {self.version or ''}".rstrip() + ".")
        bundle: ProcessBundle = ctx.engine.bundle(store, version.id)
        ctx.authorize(ProcessFacts(model.key, model.practice, bundle.start_role))
        if bundle.start_form_key:
            form = bundle.form(bundle.start_form_key)
            data = validate_form(form, dict(self.data), what="The start event",
                                 choices=ctx.engine.choices(ctx.session, form))
        else:
            data = json_ready(dict(self.data))
        instance = ProcessInstance(
            business_key=store.next_business_key(business_key_prefix(model.practice, ctx.engine.business_keys)),
            version_id=version.id,
            process_key=model.key, practice=model.practice, status=InstanceStatus.RUNNING,
            started_by=ctx.actor, started_at=ctx.now, updated_at=ctx.now, state="{}", serializer_version="",
            data=data,
        )
        store.add(instance, flush=True)
        execution = Execution.create(ctx, instance, bundle, data)
        execution.event(EventType.STARTED, version=version.number, data=data)
        incident = execution.live.advance()
        execution.save(incident)
        return execution.view()


@dataclass(frozen=True)
class SuspendInstance:
    """Stop an instance: its tasks cannot be worked and its timers do not fire until it is resumed."""

    instance_id: int
    reason: str | None = None

    def execute(self, ctx: CommandContext) -> InstanceView:
        execution = Execution.lock(ctx, self.instance_id, with_state=False)
        ctx.authorize(execution.facts())
        if execution.instance.status is InstanceStatus.SUSPENDED:
            return execution.view()  # already where the caller wants it
        execution.require_status(*ACTIVE)
        row = execution.instance
        row.status, row.next_timer_at, row.updated_at = InstanceStatus.SUSPENDED, None, ctx.now
        ctx.store.set_task_status(row.id, TaskStatus.SUSPENDED)
        ctx.store.clear_subscriptions(row.id)
        execution.event(EventType.SUSPENDED, reason=self.reason)
        return execution.view()


@dataclass(frozen=True)
class ResumeInstance:
    """Let a suspended instance go on; timers that fell due meanwhile fire on the next worker tick."""

    instance_id: int

    def execute(self, ctx: CommandContext) -> InstanceView:
        execution = Execution.lock(ctx, self.instance_id)
        ctx.authorize(execution.facts())
        if execution.instance.status in ACTIVE:
            return execution.view()
        execution.require_status(InstanceStatus.SUSPENDED)
        execution.instance.status = InstanceStatus.RUNNING
        execution.save()
        execution.event(EventType.RESUMED)
        return execution.view()


@dataclass(frozen=True)
class CancelInstance:
    """End an instance for good: every open task is withdrawn."""

    instance_id: int
    reason: str | None = None

    def execute(self, ctx: CommandContext) -> InstanceView:
        execution = Execution.lock(ctx, self.instance_id)
        ctx.authorize(execution.facts())
        if execution.instance.status is InstanceStatus.CANCELLED:
            return execution.view()
        execution.require_status(*ACTIVE, InstanceStatus.SUSPENDED, InstanceStatus.ERROR)
        incident = ctx.store.open_incident(execution.instance.id)
        if incident is not None:
            incident.resolved_at, incident.resolved_by = ctx.now, ctx.actor
        execution.live.cancel()
        execution.save(status=InstanceStatus.CANCELLED)
        execution.event(EventType.CANCELLED, reason=self.reason)
        for listener in ctx.engine.cancel_listeners:
            listener(ctx, execution.facts())
        return execution.view()


@dataclass(frozen=True)
class RetryInstance:
    """Re-run the task an incident stopped at, optionally with corrected data merged into it.

    Corrections never get round a form or separation of duties. When a person's submission failed (in the
    task's post-script), corrections are a new submission of that task's form: checked field by field, by
    someone the policy lets complete that task (``authorize_form``, given the task's facts). Anywhere else,
    corrections may not set a variable that a form of the process collects: a retry must not decide what
    a person's task decides (``authorized``, say).
    """

    instance_id: int
    data: Mapping[str, Any] = field(default_factory=dict)
    authorize_form: Authorizer = allow_all

    def execute(self, ctx: CommandContext) -> InstanceView:
        execution = Execution.lock(ctx, self.instance_id)
        ctx.authorize(execution.facts())
        execution.require_status(InstanceStatus.ERROR)
        incident = ctx.store.open_incident(execution.instance.id)
        incident_task = incident.task_id if incident is not None else None
        row = ctx.store.get_task(incident_task) if incident_task is not None else None
        data = self._corrections(execution, row)
        if incident is not None:
            incident.resolved_at, incident.resolved_by = ctx.now, ctx.actor
        execution.event(EventType.RETRIED, task_id=incident_task, data=data,
                        incident=incident.id if incident is not None else None)
        execution.instance.status = InstanceStatus.RUNNING
        execution.instance.timer_failures = 0
        failure = execution.live.retry(incident_task, data,
                                      completed_by_person=row is not None and row.status is TaskStatus.COMPLETED)
        execution.save(failure)
        return execution.view()

    def _corrections(self, execution: Execution, row: Any) -> dict[str, Any]:
        data: dict[str, Any] = json_ready(dict(self.data))
        if not data:
            return {}
        bundle = execution.bundle
        form = bundle.form(row.form_key) if row is not None and row.status is TaskStatus.COMPLETED else None
        if form is not None:
            self.authorize_form(execution.task_facts(row))
            spiff_task = execution.live.workflow.get_task_from_id(UUID(row.id))
            submitted = {f.name: spiff_task.data[f.name] for f in form.fields
                         if spiff_task.data.get(f.name) is not None}
            return validate_form(form, {**json_ready(submitted), **data}, what=f"The retried task '{row.title}'",
                                 choices=execution.ctx.engine.choices(execution.ctx.session, form))
        collected = {f.name: each.key for each in bundle.forms.values() for f in each.fields}
        refused = {name: [f"'{name}' is a field of the form '{collected[name]}'; only that task sets it, not a "
                          "retry."] for name in data if name in collected}
        if refused:
            raise FormInvalid("The retry data sets what a form decides.", errors=refused)
        return data


@dataclass(frozen=True)
class AddWorkNote:
    """Keep a person's comment on a record in its audit trail (anyone who may see the record)."""

    instance_id: int
    text: str

    MAX_LENGTH: ClassVar[int] = 5000

    def execute(self, ctx: CommandContext) -> EventView:
        text = (self.text or "").strip()
        if not text:
            raise InvalidInput("A work note needs some text.", errors={"text": ["Write the note."]})
        if len(text) > self.MAX_LENGTH:
            raise InvalidInput("The work note is too long.",
                               errors={"text": [f"Use at most {self.MAX_LENGTH} characters."]})
        instance = ctx.store.get_instance(self.instance_id)
        if instance is None:
            raise NotFound(f"Instance {self.instance_id} does not exist.")
        ctx.authorize(InstanceFacts.of(instance))
        event = ctx.store.add_event(at=ctx.now, actor=ctx.actor, type=EventType.NOTE, instance_id=instance.id,
                                    data={"text": text})
        ctx.store.session.flush()
        return EventView.of(event)


# -- human tasks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TaskCommand:
    task_id: str
    runs_workflow: ClassVar[bool] = False  # only completing moves the process; the rest change rows only
    # The task as a plain read-only row, written back by the command itself, instead of an ORM object
    # flushed by the unit of work (completing: the hottest command).
    plain_row: ClassVar[bool] = False

    def _load(self, ctx: CommandContext) -> tuple[Execution, Any]:
        row = ctx.store.task_row(self.task_id) if self.plain_row else ctx.store.get_task(self.task_id)
        if row is None:
            raise NotFound(f"Task {self.task_id} does not exist.")
        execution = Execution.lock(ctx, row.instance_id, with_state=self.runs_workflow)
        row = execution.task_row(self.task_id, row, plain=self.plain_row)
        ctx.authorize(execution.task_facts(row))
        return execution, row

    def _require_workable(self, execution: Execution, row: Any) -> None:
        if row.status is TaskStatus.COMPLETED:
            raise Conflict(f"The task '{row.title}' of {row.business_key} was already completed by "
                           f"{row.completed_by}.", task_id=row.id, completed_by=row.completed_by)
        if row.status is TaskStatus.CANCELLED:
            raise Conflict(f"The task '{row.title}' of {row.business_key} was withdrawn by the process.",
                           task_id=row.id)
        if row.status is TaskStatus.SUSPENDED:
            raise Conflict(f"{row.business_key} is {execution.instance.status.value}; its tasks wait until it "
                           "is resumed or retried.", task_id=row.id)


@dataclass(frozen=True)
class ClaimTask(_TaskCommand):
    """Take a task, so that others see it is being worked on."""

    def execute(self, ctx: CommandContext) -> TaskView:
        execution, row = self._load(ctx)
        self._require_workable(execution, row)
        if row.assignee == ctx.actor:
            return TaskView.of(row)  # claiming twice changes nothing
        if row.assignee is not None:
            raise Conflict(f"The task '{row.title}' is held by {row.assignee}.", task_id=row.id,
                           assignee=row.assignee)
        row.assignee = ctx.actor
        execution.touch()
        execution.event(EventType.CLAIMED, task_id=row.id, element_id=row.element_id)
        return TaskView.of(row)


@dataclass(frozen=True)
class UnclaimTask(_TaskCommand):
    """Give a task back to its queue."""

    def execute(self, ctx: CommandContext) -> TaskView:
        execution, row = self._load(ctx)
        self._require_workable(execution, row)
        if row.assignee is None:
            return TaskView.of(row)
        previous, row.assignee = row.assignee, None
        execution.touch()
        execution.event(EventType.UNCLAIMED, task_id=row.id, element_id=row.element_id, previous=previous)
        return TaskView.of(row)


@dataclass(frozen=True)
class ReleaseClaims:
    """Give back to their queue the tasks ``username`` holds but may no longer work on, after they lost a role.

    ``grants`` are the (role, practice) pairs the user still holds (practice ``*``: all). Without this, the
    ex-holder could no longer see the task and everyone else was told it is held, until a manager noticed.
    """

    username: str
    grants: frozenset[tuple[str, str]] = frozenset()

    def execute(self, ctx: CommandContext) -> list[str]:
        released = []
        for held in ctx.store.tasks_held_by(self.username):
            if (held.role, held.practice) in self.grants or (held.role, ALL_PRACTICES) in self.grants:
                continue
            execution = Execution.lock(ctx, held.instance_id, with_state=False)
            row = execution.task_row(held.id, held)
            if row.assignee != self.username or row.status not in LIVE_TASK:
                continue
            row.assignee = None
            execution.touch()
            execution.event(EventType.UNCLAIMED, task_id=row.id, element_id=row.element_id, previous=self.username,
                            reason=f"{self.username} no longer holds the role {row.role} of {row.practice}")
            released.append(row.id)
        return released


@dataclass(frozen=True)
class AssignTask(_TaskCommand):
    """Give a task to a named user (the policy checks that they may work on it)."""

    assignee: str = ""

    def execute(self, ctx: CommandContext) -> TaskView:
        execution, row = self._load(ctx)
        ctx.authorize(AssigneeFacts(TaskView.of(row), execution.instance.started_by,
                                    ctx.store.exclusion(row.id, self.assignee), assignee=self.assignee))
        self._require_workable(execution, row)
        if row.assignee == self.assignee:
            return TaskView.of(row)
        previous, row.assignee = row.assignee, self.assignee
        execution.touch()
        execution.event(EventType.ASSIGNED, task_id=row.id, element_id=row.element_id,
                        assignee=self.assignee, previous=previous)
        return TaskView.of(row)


@dataclass(frozen=True)
class CompleteTask(_TaskCommand):
    """Complete a task with the data of its form, and run the process on to its next wait."""

    runs_workflow: ClassVar[bool] = True
    plain_row: ClassVar[bool] = True

    data: Mapping[str, Any] | None = None

    def execute(self, ctx: CommandContext) -> CompletionView:
        execution, row = self._load(ctx)
        self._require_workable(execution, row)
        if row.assignee is not None and row.assignee != ctx.actor:
            raise Conflict(f"The task '{row.title}' is held by {row.assignee}.", task_id=row.id,
                           assignee=row.assignee)
        form = execution.bundle.form(row.form_key)
        data = validate_form(form, self.data, what=f"The task '{row.title}'",
                             choices=ctx.engine.choices(ctx.session, form))
        live_workflow = execution.live
        spiff_task = live_workflow.workflow.get_task_from_id(UUID(row.id))
        if not spiff_task.has_state(TaskState.READY):
            raise Conflict(f"The task '{row.title}' is not ready in the process.", task_id=row.id)
        deadline = live_workflow.due_interruption(row.id, ctx.now)
        if deadline is not None:
            timer, due = deadline
            raise Conflict(f"The task '{row.title}' of {row.business_key} ended at its deadline: the timer '{timer}' "
                           f"fell due at {due:%Y-%m-%d %H:%M} UTC, before this completion. The process takes the "
                           "timer's path when the timer worker next runs.", task_id=row.id, timer=timer,
                           due_at=due.isoformat())
        ctx.store.mark_task_completed(row.id, completed_by=ctx.actor, at=ctx.now, assignee=row.assignee or ctx.actor)
        execution.completed_elements.append((row.element_id, ctx.actor))
        execution.closed_tasks.append((row.id, bool(row.separation)))
        execution.event(EventType.COMPLETED, task_id=row.id, element_id=row.element_id, data=data)
        incident = live_workflow.complete_task(row.id, data, completed_by=ctx.actor)
        execution.save(incident)
        view = execution.view()
        return CompletionView(InstanceSummary(view.id, view.business_key, view.status), view.tasks)


# -- timers and messages --------------------------------------------------------------------------


@dataclass(frozen=True)
class FireTimers:
    """Fire the due timers of one instance (the worker runs this per due instance).

    Returns the element ids of the timers that fired, or None when there was nothing to do: another
    worker holds or fired it (``skip_locked``), or it was suspended or finished meanwhile.
    """

    instance_id: int
    skip_locked: bool = False

    def execute(self, ctx: CommandContext) -> list[str] | None:
        execution = Execution.try_lock(ctx, self.instance_id, skip_locked=self.skip_locked)
        if execution is None:
            return None
        row = execution.instance
        if not row.status.is_active or row.next_timer_at is None or row.next_timer_at > ctx.now:
            return None
        incident = execution.live.fire_timers()
        row.timer_failures = 0
        execution.save(incident)
        return list(execution.live.fired_timers)


TIMER_ATTEMPTS = 5  # failed passes in a row before an instance's timers become an incident
TIMER_BACKOFF = timedelta(seconds=30)  # after the first failure; doubled after each further one


@dataclass(frozen=True)
class RecordTimerFailure:
    """Firing an instance's timers failed unexpectedly: put its next attempt off, and after
    ``TIMER_ATTEMPTS`` failures in a row stop it with an incident, so it cannot hold up the worker."""

    instance_id: int
    error_type: str
    message: str
    attempts: int = TIMER_ATTEMPTS

    def execute(self, ctx: CommandContext) -> int | None:
        execution = Execution.try_lock(ctx, self.instance_id, with_state=False)
        if execution is None or not execution.instance.status.is_active:
            return None
        row = execution.instance
        row.timer_failures = (row.timer_failures or 0) + 1
        if row.timer_failures >= self.attempts:
            execution.record_incident(IncidentInfo(
                task_id=None, element_id=None, error_type=self.error_type,
                message=f"Firing this instance's timers failed {row.timer_failures} times in a row; the last "
                        f"error: {self.message}. Retry the instance once the cause is fixed.", line=None))
            return row.timer_failures
        row.next_timer_at = ctx.now + TIMER_BACKOFF * 2 ** (row.timer_failures - 1)
        execution.touch()
        return row.timer_failures


@dataclass(frozen=True)
class CorrelateMessage:
    """Deliver a message to the one instance waiting for it with these correlation keys.

    Only instances of ``practices`` (the ones the sender may see; None: all) are considered, so the
    answer never tells a sender about instances of other practices, not even that they exist.
    """

    name: str
    correlation_keys: Mapping[str, Any] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)
    practices: tuple[str, ...] | None = None

    def execute(self, ctx: CommandContext) -> InstanceView:
        keys = json_ready(dict(self.correlation_keys))
        business_key = keys.pop("business_key", None)
        correlation = canonical_json(keys) if keys or business_key is None else None
        matches = ctx.store.subscribers(self.name, correlation, business_key, limit=2, practices=self.practices)
        described = ", ".join(f"{k}={v!r}" for k, v in dict(self.correlation_keys).items()) or "no keys"
        if not matches:
            raise NotFound(f"No instance you may see is waiting for the message '{self.name}' with {described}.")
        if len(matches) > 1:
            more = ", ".join(m.business_key for m in matches)
            raise Conflict(f"Several instances wait for the message '{self.name}' with {described} ({more}, ...); "
                           "add correlation keys that single one out.", instances=[m.business_key for m in matches])
        execution = Execution.lock(ctx, matches[0].id)
        ctx.authorize(execution.facts())
        execution.require_status(*ACTIVE)
        live_workflow = execution.live
        waiting = [(task, definition) for task, definition in live_workflow.waiting_messages()
                   if definition.name == self.name]
        if not waiting:
            raise Conflict(f"{execution.instance.business_key} no longer waits for '{self.name}'.")
        task, definition = waiting[0]
        payload = json_ready(dict(self.payload))
        self._check_payload(live_workflow, definition, payload, keys)
        correlations = definition.get_correlations(task, payload)
        live_workflow.workflow.send_event(BpmnEvent(definition, payload=payload, correlations=correlations))
        execution.event(EventType.MESSAGE_RECEIVED, task_id=str(task.id), element_id=task.task_spec.bpmn_id,
                        message=self.name, correlation_keys=json_ready(dict(self.correlation_keys)),
                        payload=payload)
        execution.save(live_workflow.advance())
        return execution.view()

    def _check_payload(self, live_workflow: Any, definition: Any, payload: dict[str, Any],
                       keys: dict[str, Any]) -> None:
        """The library writes the payload into the task before it fails on a missing correlation property,
        so check every property against the payload first."""
        environment = live_workflow.workflow.script_engine.environment
        errors: dict[str, list[str]] = {}
        for prop in definition.correlation_properties:
            try:
                value = environment.evaluate(prop.retrieval_expression, payload)
            except Exception as error:  # noqa: BLE001 - any failure means the payload lacks the property
                errors.setdefault("payload", []).append(
                    f"The payload gives no value for the correlation property '{prop.name}' "
                    f"({prop.retrieval_expression}): {error}")
                continue
            if prop.name in keys and json_ready(value) != keys[prop.name]:
                errors.setdefault("correlation_keys", []).append(
                    f"'{prop.name}' is {keys[prop.name]!r} but the payload says {json_ready(value)!r}.")
        if errors:
            raise InvalidInput("The message does not fit the event that waits for it.", errors=errors)


# -- external tasks -------------------------------------------------------------------------------

VARIABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")


def validate_variables(form: FormDefinition | None, variables: Any) -> dict[str, Any]:
    """A worker's result: a JSON object whose names are process variable names, or the task's form data."""
    if not isinstance(variables, Mapping):
        raise InvalidInput("The variables must be a JSON object.", errors={"variables": ["Send an object."]})
    if form is not None:
        return validate_form(form, dict(variables), what="The external task")
    errors = {f"variables.{name}": ["Use a name of letters, digits and '_' that starts with a letter "
                                    "(at most 100 characters)."]
              for name in variables if not isinstance(name, str) or not VARIABLE_NAME.match(name)}
    if errors:
        raise InvalidInput("Some variable names cannot be process variables.", errors=errors)
    ready: dict[str, Any] = json_ready(dict(variables))
    return ready


@dataclass(frozen=True)
class FetchAndLockExternalTasks:
    """Lock up to ``max_tasks`` open external tasks of the given topics for a worker (Camunda 7's pattern).

    ``topics`` maps each topic to its lock duration in milliseconds. ``queues`` are the (role, practice)
    pairs the worker's user works in; only those tasks are handed out (None: all, for system workers).
    """

    worker_id: str
    topics: Mapping[str, int]
    max_tasks: int = 1
    queues: tuple[tuple[str, str], ...] | None = None

    def execute(self, ctx: CommandContext) -> list[ExternalTaskView]:
        store = ctx.store
        locked = []
        for row in store.lock_fetchable_external_tasks(list(self.topics), self.queues, ctx.now, self.max_tasks):
            row.worker_id, row.locked_by = self.worker_id, ctx.actor
            row.lock_expires_at = ctx.now + timedelta(milliseconds=self.topics[row.topic])
            instance = store.get_instance(row.instance_id)
            store.add_event(at=ctx.now, actor=ctx.actor, type=EventType.EXTERNAL_TASK_LOCKED,
                            instance_id=row.instance_id, task_id=row.id,
                            data={"element_id": row.element_id, "topic": row.topic, "worker_id": self.worker_id,
                                  "lock_expires_at": row.lock_expires_at.isoformat()})
            locked.append(ExternalTaskView.of(row, dict(instance.data) if instance is not None else {}))
        return locked


@dataclass(frozen=True)
class _ExternalTaskCommand:
    task_id: str
    worker_id: str

    def _load(self, ctx: CommandContext, *, with_state: bool) -> tuple[Execution, ExternalTask]:
        row = ctx.store.get_external_task(self.task_id)
        if row is None:
            raise NotFound(f"External task {self.task_id} does not exist.")
        execution = Execution.lock(ctx, row.instance_id, with_state=with_state)
        row = ctx.store.get_external_task(self.task_id, fresh=True)
        if row is None:  # gone between the two reads: only a concurrent delete could do that
            raise NotFound(f"External task {self.task_id} does not exist.")
        ctx.authorize(ExternalTaskFacts(ExternalTaskView.of(row)))
        if row.status is not ExternalTaskStatus.OPEN:
            raise Conflict(f"The external task '{row.title}' of {row.business_key} is {row.status.value}.",
                           task_id=row.id, state=row.status.value)
        if row.worker_id is None:
            raise Conflict(f"The external task '{row.title}' is not locked; fetch and lock it first.", task_id=row.id)
        if row.worker_id != self.worker_id:
            raise Conflict(f"The external task '{row.title}' is locked by the worker '{row.worker_id}'.",
                           task_id=row.id, worker_id=row.worker_id)
        return execution, row


@dataclass(frozen=True)
class CompleteExternalTask(_ExternalTaskCommand):
    """A worker finished an external task: its variables go into the process data and the process moves on.

    The worker must hold the lock. A lock that expired still counts while no other worker has taken the
    task; once another has, the first worker's completion is a conflict.
    """

    variables: Mapping[str, Any] = field(default_factory=dict)

    def execute(self, ctx: CommandContext) -> CompletionView:
        execution, row = self._load(ctx, with_state=True)
        execution.require_status(*ACTIVE)
        meta = execution.bundle.external_tasks.get(row.element_id)
        form = execution.bundle.form(meta.form_key) if meta is not None else None
        variables = validate_variables(form, self.variables)
        live_workflow = execution.live
        spiff_task = live_workflow.workflow.get_task_from_id(UUID(row.id))
        if not spiff_task.has_state(TaskState.READY):
            raise Conflict(f"The external task '{row.title}' is not ready in the process.", task_id=row.id)
        row.status, row.completed_at = ExternalTaskStatus.COMPLETED, ctx.now
        execution.event(EventType.EXTERNAL_TASK_COMPLETED, task_id=row.id, element_id=row.element_id,
                        worker_id=self.worker_id, data=variables)
        execution.save(live_workflow.complete_task(row.id, variables))
        view = execution.view()
        return CompletionView(InstanceSummary(view.id, view.business_key, view.status), view.tasks)


@dataclass(frozen=True)
class ReportExternalTaskFailure(_ExternalTaskCommand):
    """A worker could not do an external task. With retries left it goes back to the queue after
    ``retry_timeout_ms``; with none left it becomes an incident that stops the instance until a retry."""

    error_message: str = ""
    retries: int = 0
    retry_timeout_ms: int = 0

    def execute(self, ctx: CommandContext) -> ExternalTaskView:
        execution, row = self._load(ctx, with_state=self.retries <= 0)
        row.error_message, row.retries = self.error_message, max(self.retries, 0)
        row.worker_id = row.locked_by = row.lock_expires_at = None
        execution.event(EventType.EXTERNAL_TASK_FAILED, task_id=row.id, element_id=row.element_id,
                        worker_id=self.worker_id, message=self.error_message, retries=row.retries)
        if self.retries > 0:
            row.retry_at = ctx.now + timedelta(milliseconds=self.retry_timeout_ms)
            execution.touch()
            return ExternalTaskView.of(row)
        row.status, row.retry_at = ExternalTaskStatus.FAILED, None
        execution.save(IncidentInfo(task_id=row.id, element_id=row.element_id, error_type="ExternalTaskFailed",
                                    message=f"The worker '{self.worker_id}' failed the external task "
                                            f"'{row.title}' (topic {row.topic}) with no retries left: "
                                            f"{self.error_message}", line=None))
        return ExternalTaskView.of(row)


@dataclass(frozen=True)
class ExtendExternalTaskLock(_ExternalTaskCommand):
    """Keep an external task locked for ``new_duration_ms`` from now (the worker needs more time)."""

    new_duration_ms: int = 0

    def execute(self, ctx: CommandContext) -> ExternalTaskView:
        _execution, row = self._load(ctx, with_state=False)
        if row.lock_expires_at is not None and row.lock_expires_at <= ctx.now:
            raise Conflict(f"The lock on the external task '{row.title}' expired at "
                           f"{row.lock_expires_at.isoformat()}; fetch and lock it again.", task_id=row.id)
        row.lock_expires_at = ctx.now + timedelta(milliseconds=self.new_duration_ms)
        return ExternalTaskView.of(row)
