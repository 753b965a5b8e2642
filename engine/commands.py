"""Engine operations, one command each, each run in one transaction by ``Engine.run``.

Every ``execute`` follows the same order: validate the input, load through the store (locking the
instance), ask the policy (``ctx.authorize``), change state, write the audit event, return a plain view.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from uuid import UUID

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from engine.context import CommandContext
from engine.deployment import prepare_deployment
from engine.errors import Conflict, FormInvalid, InvalidInput, NotFound
from engine.execution import Execution
from engine.models import ProcessInstance, ProcessModel, ProcessVersion
from engine.runtime import canonical_json, json_ready
from engine.specs import ProcessBundle, all_task_specs, is_human_task, parse_process, task_meta
from engine.states import EventType, InstanceStatus, TaskStatus
from engine.views import (
    AssigneeFacts,
    CompletionView,
    DeployResult,
    EventView,
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
BUSINESS_KEY_PREFIXES = {"change": "CHG", "release": "REL"}
ACTIVE = (InstanceStatus.RUNNING, InstanceStatus.WAITING)


def business_key_prefix(practice: str) -> str:
    """``CHG`` for change, ``REL`` for release, else the practice's first three letters."""
    return BUSINESS_KEY_PREFIXES.get(practice, re.sub(r"[^A-Z]", "", practice.upper())[:3] or "PRC")


def validate_form(form: FormDefinition | None, data: Any, *, what: str) -> dict[str, Any]:
    """Validated form data, or ``FormInvalid`` with errors per field."""
    if form is None:
        if data in (None, {}):
            return {}
        raise FormInvalid(f"{what} has no form, so it takes no data.",
                          errors={name: ["Unknown field."] for name in (data if isinstance(data, dict) else {})}
                          or {"data": ["Send no data."]})
    try:
        return validate_submission(form, data if data is not None else {})
    except FormValidationError as error:
        raise FormInvalid(f"The data does not match the form '{form.key}'.", errors=error.errors) from error


# -- deploying ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DeployInput:
    key: str
    practice: str
    bpmn: str
    decisions: tuple[str, ...] | None = None  # None: reuse the latest version's decision tables
    forms: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def _checked(self, ctx: CommandContext) -> tuple[Any, ProcessModel | None]:
        if not KEY_PATTERN.match(self.key):
            raise InvalidInput("Invalid process key.", errors={"key": [
                "Use 1 to 100 lowercase letters, digits, '-' or '_', starting with a letter."]})
        if not KEY_PATTERN.match(self.practice):
            raise InvalidInput("Invalid practice.", errors={"practice": ["Use a lowercase word like 'change'."]})
        model = ctx.store.get_model(self.key, lock=True)
        if model is not None and model.practice != self.practice:
            raise InvalidInput(f"The process '{self.key}' belongs to the practice '{model.practice}'.",
                               errors={"practice": [f"Must be '{model.practice}' for this process."]})
        ctx.authorize(ProcessFacts(self.key, self.practice))
        latest = ctx.store.latest_version(model.id) if model is not None else None
        decisions = list(self.decisions) if self.decisions is not None else list(latest.decisions if latest else [])
        uploaded = self._uploaded_forms()

        def find_form(key: str) -> FormDefinition | None:
            if key in uploaded:
                return uploaded[key]
            form = ctx.engine.find_form(key)
            if form is None and latest is not None and key in latest.forms:
                form = FormDefinition.from_dict(key, dict(latest.forms[key]))
            return form

        deployable = prepare_deployment(self.key, self.bpmn, decisions, find_form=find_form,
                                        lane_roles=ctx.engine.lane_roles, services=ctx.engine.services)
        return deployable, model

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
        deployable, model = self._checked(ctx)
        store = ctx.store
        if model is None:
            model = ProcessModel(key=self.key, name=self.name or deployable.name, practice=self.practice,
                                 created_at=ctx.now)
            store.session.add(model)
            store.session.flush()
        elif self.name:
            model.name = self.name
        existing = store.version_with_hash(model.id, deployable.sha256)
        if existing is not None:
            return DeployResult(VersionView.of(model, existing), created=False)
        latest = store.latest_version(model.id)
        version = ProcessVersion(
            model_id=model.id, number=(latest.number if latest else 0) + 1, process_id=deployable.process_id,
            bpmn_xml=deployable.bpmn_xml, decisions=deployable.decisions, forms=deployable.forms,
            sha256=deployable.sha256, start_role=deployable.start_role,
            start_form_key=deployable.start_form_key, deployed_by=ctx.actor, deployed_at=ctx.now,
            comment=self.comment,
        )
        store.session.add(version)
        store.session.flush()
        store.add_event(at=ctx.now, actor=ctx.actor, type=EventType.DEPLOYED, instance_id=None,
                        data={"process": model.key, "version": version.number, "sha256": version.sha256})
        return DeployResult(VersionView.of(model, version), created=True)


@dataclass(frozen=True)
class ValidateDeployment(_DeployInput):
    """Run every deploy check and store nothing."""

    def execute(self, ctx: CommandContext) -> ValidationReport:
        deployable, _model = self._checked(ctx)
        bundle_tasks = []
        spec, subprocess_specs = parse_process(deployable.process_id, deployable.bpmn_xml, deployable.decisions)
        for task_spec in all_task_specs(spec, subprocess_specs):
            if is_human_task(task_spec):
                meta = task_meta(task_spec, ctx.engine.lane_roles)
                bundle_tasks.append({"element_id": meta.element_id, "title": meta.title, "role": meta.role,
                                     "form_key": meta.form_key, "separation_of_duties": list(meta.separation)})
        return ValidationReport(deployable.process_id, deployable.name, deployable.sha256,
                                sorted(deployable.forms), deployable.start_role, bundle_tasks)


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
            data = validate_form(bundle.form(bundle.start_form_key), dict(self.data), what="The start event")
        else:
            data = json_ready(dict(self.data))
        instance = ProcessInstance(
            business_key=store.next_business_key(business_key_prefix(model.practice)), version_id=version.id,
            process_key=model.key, practice=model.practice, status=InstanceStatus.RUNNING,
            started_by=ctx.actor, started_at=ctx.now, updated_at=ctx.now, state="{}", serializer_version="",
            data=data,
        )
        store.session.add(instance)
        store.session.flush()
        execution = Execution.create(ctx, instance, bundle, data)
        instance.serializer_version = ctx.engine.codec.version
        execution.event(EventType.STARTED, version=version.number, data=data)
        incident = execution.run.advance()
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
        execution.run.cancel()
        execution.save(status=InstanceStatus.CANCELLED)
        execution.event(EventType.CANCELLED, reason=self.reason)
        return execution.view()


@dataclass(frozen=True)
class RetryInstance:
    """Re-run the task an incident stopped at, optionally with corrected data merged into it."""

    instance_id: int
    data: Mapping[str, Any] = field(default_factory=dict)

    def execute(self, ctx: CommandContext) -> InstanceView:
        execution = Execution.lock(ctx, self.instance_id)
        ctx.authorize(execution.facts())
        execution.require_status(InstanceStatus.ERROR)
        incident = ctx.store.open_incident(execution.instance.id)
        incident_task = incident.task_id if incident is not None else None
        if incident is not None:
            incident.resolved_at, incident.resolved_by = ctx.now, ctx.actor
        execution.event(EventType.RETRIED, task_id=incident_task, data=json_ready(dict(self.data)),
                        incident=incident.id if incident is not None else None)
        execution.instance.status = InstanceStatus.RUNNING
        row = ctx.store.get_task(incident_task) if incident_task is not None else None
        failure = execution.run.retry(incident_task, json_ready(dict(self.data)),
                                      completed_by_person=row is not None and row.status is TaskStatus.COMPLETED)
        execution.save(failure)
        return execution.view()


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
        ctx.authorize(InstanceFacts(instance.id, instance.business_key, instance.process_key, instance.practice,
                                    instance.started_by, instance.status))
        event = ctx.store.add_event(at=ctx.now, actor=ctx.actor, type=EventType.NOTE, instance_id=instance.id,
                                    data={"text": text})
        ctx.store.session.flush()
        return EventView.of(event)


# -- human tasks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TaskCommand:
    task_id: str
    runs_workflow: ClassVar[bool] = False  # only completing moves the process; the rest change rows only

    def _load(self, ctx: CommandContext) -> tuple[Execution, Any]:
        row = ctx.store.get_task(self.task_id)
        if row is None:
            raise NotFound(f"Task {self.task_id} does not exist.")
        execution = Execution.lock(ctx, row.instance_id, with_state=self.runs_workflow)
        row = execution.task_row(self.task_id, row)
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

    data: Mapping[str, Any] | None = None

    def execute(self, ctx: CommandContext) -> CompletionView:
        execution, row = self._load(ctx)
        self._require_workable(execution, row)
        if row.assignee is not None and row.assignee != ctx.actor:
            raise Conflict(f"The task '{row.title}' is held by {row.assignee}.", task_id=row.id,
                           assignee=row.assignee)
        data = validate_form(execution.bundle.form(row.form_key), self.data, what=f"The task '{row.title}'")
        run = execution.run
        spiff_task = run.workflow.get_task_from_id(UUID(row.id))
        if not spiff_task.has_state(TaskState.READY):
            raise Conflict(f"The task '{row.title}' is not ready in the process.", task_id=row.id)
        row.status, row.completed_by, row.completed_at = TaskStatus.COMPLETED, ctx.actor, ctx.now
        row.assignee = row.assignee or ctx.actor
        execution.completed_elements.append((row.element_id, ctx.actor))
        execution.closed_tasks.append((row.id, bool(row.separation)))
        execution.event(EventType.COMPLETED, task_id=row.id, element_id=row.element_id, data=data)
        incident = run.complete_task(row.id, data)
        execution.save(incident)
        view = execution.view()
        return CompletionView(InstanceSummary(view.id, view.business_key, view.status), view.tasks)


# -- timers and messages --------------------------------------------------------------------------


@dataclass(frozen=True)
class FireTimers:
    """Fire the due timers of one instance (the worker runs this per due instance)."""

    instance_id: int

    def execute(self, ctx: CommandContext) -> list[str]:
        execution = Execution.lock(ctx, self.instance_id)
        row = execution.instance
        if not row.status.is_active or row.next_timer_at is None or row.next_timer_at > ctx.now:
            return []  # another worker fired it first, or it was suspended meanwhile
        incident = execution.run.fire_timers()
        execution.save(incident)
        return list(execution.run.fired_timers)


@dataclass(frozen=True)
class CorrelateMessage:
    """Deliver a message to the one instance waiting for it with these correlation keys."""

    name: str
    correlation_keys: Mapping[str, Any] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)

    def execute(self, ctx: CommandContext) -> InstanceView:
        keys = json_ready(dict(self.correlation_keys))
        business_key = keys.pop("business_key", None)
        correlation = canonical_json(keys) if keys or business_key is None else None
        matches = ctx.store.subscribers(self.name, correlation, business_key, limit=2)
        described = ", ".join(f"{k}={v!r}" for k, v in dict(self.correlation_keys).items()) or "no keys"
        if not matches:
            raise NotFound(f"No instance is waiting for the message '{self.name}' with {described}.")
        if len(matches) > 1:
            more = ", ".join(m.business_key for m in matches)
            raise Conflict(f"Several instances wait for the message '{self.name}' with {described} ({more}, ...); "
                           "add correlation keys that single one out.", instances=[m.business_key for m in matches])
        execution = Execution.lock(ctx, matches[0].id)
        ctx.authorize(execution.facts())
        execution.require_status(*ACTIVE)
        run = execution.run
        waiting = [(task, definition) for task, definition in run.waiting_messages() if definition.name == self.name]
        if not waiting:
            raise Conflict(f"{execution.instance.business_key} no longer waits for '{self.name}'.")
        task, definition = waiting[0]
        payload = json_ready(dict(self.payload))
        self._check_payload(run, definition, payload, keys)
        correlations = definition.get_correlations(task, payload)
        run.workflow.send_event(BpmnEvent(definition, payload=payload, correlations=correlations))
        execution.event(EventType.MESSAGE_RECEIVED, task_id=str(task.id), element_id=task.task_spec.bpmn_id,
                        message=self.name, correlation_keys=json_ready(dict(self.correlation_keys)),
                        payload=payload)
        execution.save(run.advance())
        return execution.view()

    def _check_payload(self, run: Any, definition: Any, payload: dict[str, Any], keys: dict[str, Any]) -> None:
        """The library writes the payload into the task before it fails on a missing correlation property,
        so check every property against the payload first."""
        environment = run.workflow.script_engine.environment
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
