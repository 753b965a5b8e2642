"""Request and response bodies (marshmallow), which are also the OpenAPI contract."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from engine import ExternalTaskStatus, InstanceStatus, TaskStatus
from engine.states import EventType
from engine.store import PAGE_SIZE
from engine.views import SlaState
from roles.policy import Role

MAX_PER_PAGE = 200
# Ids are 32-bit integer columns on PostgreSQL; a larger number can name nothing, so it is refused up front.
MAX_ID = 2**31 - 1
# Beyond this page, every offset is past any table we could hold (and still fits a 64-bit OFFSET).
MAX_PAGE = 10_000_000
# The shapes the engine and the roles module check, stated here too so that the OpenAPI document says them.
KEY = validate.Regexp(r"^(?!validate$)[a-z][a-z0-9_-]{0,99}$",
                      error="Use 1 to 100 lowercase letters, digits, '-' or '_', starting with a letter (not "
                            "'validate').")
PRACTICE = validate.Regexp(r"^[a-z][a-z0-9_-]{0,49}$", error="Use a lowercase word like 'change' (at most 50 "
                                                             "characters).")
PRACTICE_OR_ALL = validate.Regexp(r"^(\*|[a-z][a-z0-9_-]{0,49})$",
                                  error="Use a lowercase word like 'change', or '*' for every practice.")
USERNAME = validate.Regexp(r"^[a-z0-9][a-z0-9._-]{0,99}$", error="Use 1 to 100 lowercase letters, digits, '.', "
                                                                  "'_' or '-', starting with a letter or digit.")


def id_field(**kwargs: Any) -> fields.Integer:
    """An integer id of a row (1 to ``MAX_ID``)."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class ProblemSchema(Schema):
    """An RFC 7807 problem (``application/problem+json``)."""

    type = fields.String(metadata={"description": "URI of the kind of problem (urn:changeflow:problem:...)."})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String(metadata={"description": "What went wrong and what to do about it."})
    instance = fields.String(metadata={"description": "The request path."})
    errors = fields.Raw(metadata={
        "description": "Field errors as {field: [messages]}, or BPMN problems as [{element_id, message, line}]."})
    context = fields.Dict(metadata={"description": "Specifics, such as the conflicting task or its holder."})


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PER_PAGE))


# -- people -----------------------------------------------------------------------------------------------


class GrantSchema(Schema):
    role = fields.String()
    practice = fields.String()


class MeSchema(Schema):
    username = fields.String()
    display_name = fields.String(allow_none=True)
    is_admin = fields.Boolean()
    roles = fields.List(fields.Nested(GrantSchema))


class UserSchema(Schema):
    username = fields.String()
    display_name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    roles = fields.List(fields.Nested(GrantSchema))


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=USERNAME, metadata={"example": "alice"})
    display_name = fields.String(load_default=None, validate=validate.Length(max=200))
    email = fields.Email(load_default=None, validate=validate.Length(max=320))


class TokenRequestSchema(Schema):
    expires_at = fields.AwareDateTime(load_default=None, metadata={
        "description": "When the token stops working (ISO 8601 with a timezone), in the future; omit for no "
                       "expiry. A moment already past is refused (422)."})


class TokenSchema(Schema):
    id = fields.Integer()
    token = fields.String(metadata={"description": "The bearer token. It is shown only in this response."})
    expires_at = fields.DateTime(allow_none=True)


class RoleSchema(Schema):
    name = fields.String()
    description = fields.String()
    per_practice = fields.Boolean(metadata={"description": "False for admin, which is global."})


class RoleAssignmentSchema(Schema):
    id = fields.Integer()
    user = fields.String()
    role = fields.String()
    practice = fields.String()
    granted_by = fields.String()
    granted_at = fields.DateTime()


class RoleAssignmentCreateSchema(Schema):
    user = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    practice = fields.String(load_default="*", validate=PRACTICE_OR_ALL, metadata={
        "description": "A practice such as 'change', or '*' (the default). An admin grant must be for '*'."})


class RoleAssignmentQuerySchema(PageArgs):
    user = fields.String()
    role = fields.String()
    practice = fields.String()


# -- process models ---------------------------------------------------------------------------------------


class ProcessModelSchema(Schema):
    key = fields.String()
    name = fields.String()
    practice = fields.String()
    latest_version = fields.Integer(allow_none=True)


class VersionSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    process_id = fields.String()
    sha256 = fields.String()
    practice = fields.String()
    deployed_by = fields.String()
    deployed_at = fields.DateTime()
    comment = fields.String(allow_none=True)
    start_role = fields.String(allow_none=True)
    start_form = fields.String(allow_none=True)
    forms = fields.List(fields.String())
    instances = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "How many instances run on this version, per status (running, waiting, completed...)."})


class VersionDetailSchema(VersionSchema):
    bpmn = fields.String(metadata={"description": "The BPMN 2.0 XML of this version."})
    decisions = fields.List(fields.String(), metadata={"description": "DMN documents deployed with it."})


# Rules JSON Schema cannot state are stated in the descriptions, so that the document and the validation agree.
STORABLE_TEXT = (" Text anywhere in it, keys included, may not hold a NUL character or a lone UTF-16 surrogate "
                 "(no database stores them): such a body is a 400.")


class DeployRequestSchema(Schema):
    bpmn = fields.String(required=True, validate=validate.Length(min=1), metadata={"description": "BPMN 2.0 XML."})
    practice = fields.String(required=True, validate=PRACTICE, metadata={
        "example": "change", "description": "The practice of the process; a process model that exists keeps its "
                                            "own, and another one is a 422 naming this field."})
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    comment = fields.String(load_default=None)
    decisions = fields.List(fields.String(), load_default=None, metadata={
        "description": "DMN documents; omit to keep those of the latest version."})
    forms = fields.Dict(keys=fields.String(), values=fields.Dict(), load_default=dict, metadata={
        "description": "Form definitions by key, overriding the server's forms directory. Each is a form "
                       "definition as in forms/definitions/ (`title`, and `fields` with `name`, `type`, `label`, "
                       "`required`...; docs/authoring-processes.md); one that is not is a 422 naming `forms.<key>`."})
    default_role = fields.String(load_default=None, validate=validate.OneOf(["owner", "manager", "practitioner"]),
                                 metadata={"description": "The role of user tasks that no lane, "
                                           "camunda:candidateGroups or role property assigns (default practitioner)."})
    process_id = fields.String(load_default=None, validate=validate.Length(min=1, max=200), metadata={
        "description": "The process to deploy when the document has several (its id, in any case)."})


class XmlDeployArgs(Schema):
    """Query parameters when the body is raw BPMN XML (Content-Type: application/xml)."""

    practice = fields.String(load_default=None, validate=PRACTICE, metadata={
        "description": "Required for a new process model; defaults to the model's practice."})
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    comment = fields.String(load_default=None)
    default_role = fields.String(load_default=None, validate=validate.OneOf(["owner", "manager", "practitioner"]))
    process_id = fields.String(load_default=None, validate=validate.Length(min=1, max=200))


class ValidateRequestSchema(DeployRequestSchema):
    key = fields.String(required=True, validate=KEY, metadata={
        "description": "The process model key to check against."})


class DeployResultSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    sha256 = fields.String()
    practice = fields.String()
    created = fields.Boolean(metadata={"description": "False when identical content was already deployed."})
    warnings = fields.List(fields.Nested(lambda: BpmnProblemSchema()), metadata={
        "description": "What does not stop the diagram from running but its author should know."})


class BpmnProblemSchema(Schema):
    element_id = fields.String(allow_none=True)
    message = fields.String()
    line = fields.Integer(allow_none=True)


class ValidationReportSchema(Schema):
    valid = fields.Boolean()
    process_id = fields.String()
    name = fields.String()
    sha256 = fields.String()
    forms = fields.List(fields.String())
    start_role = fields.String(allow_none=True)
    user_tasks = fields.List(fields.Dict())
    warnings = fields.List(fields.Nested(BpmnProblemSchema))


# -- tasks ------------------------------------------------------------------------------------------------


class _WorkItemSchema(Schema):
    """What human and external tasks have in common: where they stand in which record, and who does them."""

    id = fields.String()
    instance_id = fields.Integer()
    business_key = fields.String()
    process = fields.String()
    element_id = fields.String()
    title = fields.String()
    role = fields.String()
    practice = fields.String()


class TaskSchema(_WorkItemSchema):
    state = fields.Enum(TaskStatus, by_value=True)
    assignee = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    form_key = fields.String(allow_none=True)
    created_at = fields.DateTime()
    completed_by = fields.String(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    record_title = fields.String(allow_none=True, metadata={"description": "The record's title (task lists)."})
    risk = fields.String(allow_none=True, metadata={"description": "The record's risk, when it has one."})
    planned_start = fields.String(allow_none=True, metadata={"description": "Start of the planned window."})
    planned_end = fields.String(allow_none=True, metadata={"description": "End of the planned window."})
    sla_state = fields.Enum(SlaState, by_value=True, allow_none=True, metadata={
        "description": "none (no due date), on_track, due_soon (within 8 hours) or overdue (task lists)."})


class FormSchema(Schema):
    key = fields.String()
    title = fields.String()
    schema = fields.Dict(metadata={"description": "JSON Schema (draft 2020-12) of the data to submit."})


class TaskDetailSchema(TaskSchema):
    instructions = fields.String(allow_none=True)
    separation_of_duties = fields.List(fields.String())
    form = fields.Nested(FormSchema, allow_none=True)
    data = fields.Dict(metadata={"description": "The process data the task shows."})
    instance_status = fields.Enum(InstanceStatus, by_value=True)
    requester = fields.String()
    schedule_conflicts = fields.List(fields.Dict(), metadata={
        "description": "The conflicts of the record's planned window now ({kind, message, ...}); [] when none."})


class TaskQueryArgs(PageArgs):
    scope = fields.String(load_default="actionable", validate=validate.OneOf(["actionable", "all"]), metadata={
        "description": "'actionable' (default): tasks you can work on now. 'all': every task you may see."})
    process = fields.String()
    instance = id_field()
    role = fields.String(validate=validate.OneOf([r.value for r in Role if r is not Role.ADMIN]))
    assignee = fields.String(metadata={"description": "'me', 'none' or a username."})
    state = fields.Enum(TaskStatus, by_value=True, metadata={"description": "Default: open."})
    sort = fields.String(load_default="created", validate=validate.OneOf(["created", "due"]), metadata={
        "description": "'created' (default): oldest first. 'due': earliest due date first, undated last."})


class CompleteRequestSchema(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "The form's fields; the task's form JSON Schema says which." + STORABLE_TEXT})


class AssignRequestSchema(Schema):
    user = fields.String(required=True, validate=USERNAME, metadata={"description": "An active user's name."})


class CompletionInstanceSchema(Schema):
    id = fields.Integer()
    business_key = fields.String()
    status = fields.Enum(InstanceStatus, by_value=True)


class CompletionSchema(Schema):
    instance = fields.Nested(CompletionInstanceSchema)
    next_tasks = fields.List(fields.Nested(TaskSchema))


# -- instances --------------------------------------------------------------------------------------------


class IncidentSchema(Schema):
    id = fields.Integer()
    task_id = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    error_type = fields.String()
    message = fields.String()
    line = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class InstanceSchema(Schema):
    id = fields.Integer()
    business_key = fields.String()
    process = fields.String()
    version = fields.Integer()
    practice = fields.String()
    status = fields.Enum(InstanceStatus, by_value=True)
    data = fields.Dict()
    tasks = fields.List(fields.Nested(TaskSchema), metadata={"description": "Open (or suspended) tasks."})
    started_by = fields.String()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    next_timer_at = fields.DateTime(allow_none=True)
    incident = fields.Nested(IncidentSchema, allow_none=True)
    waiting_for = fields.List(fields.Dict(), metadata={
        "description": "Why a waiting instance waits: messages ({kind, name}), external tasks ({kind, element_id, "
                       "topic}) and its next timer ({kind, due_at}). Empty in lists."})


class StartRequestSchema(Schema):
    process = fields.String(required=True, metadata={"example": "normal_change"})
    version = id_field(load_default=None, strict=True)  # 1.5 is no version (it used to start version 1)
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "Initial data; validated against the start event's form when it has one." + STORABLE_TEXT})


class InstanceQueryArgs(PageArgs):
    process = fields.String()
    status = fields.Enum(InstanceStatus, by_value=True)
    started_by = fields.String()
    business_key = fields.String()
    service = fields.String(metadata={"description": "The record's affected service."})
    started_from = fields.AwareDateTime(metadata={"description": "Started at or after (ISO 8601 with a timezone)."})
    started_until = fields.AwareDateTime(metadata={"description": "Started before (ISO 8601 with a timezone)."})


class ReasonSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class RetryRequestSchema(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "Corrections merged into the failed task's data before it runs again; those to a person's "
                       "submission are checked against that task's form." + STORABLE_TEXT})


class EventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    type = fields.Enum(EventType, by_value=True)
    instance_id = fields.Integer(allow_none=True)
    task_id = fields.String(allow_none=True)
    data = fields.Dict()


class NoteRequestSchema(Schema):
    text = fields.String(required=True, metadata={"description": "The note (up to 5,000 characters)."})


class StartFormSchema(Schema):
    process = fields.String()
    version = fields.Integer()
    start_role = fields.String(allow_none=True)
    form = fields.Nested(FormSchema, allow_none=True, metadata={
        "description": "The start event's form as JSON Schema; null when the process starts without data."})


class TokenInfoSchema(Schema):
    id = fields.Integer()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    active = fields.Boolean(metadata={"description": "Neither revoked nor expired."})


class MessageRequestSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    correlation_keys = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "Values that single out the waiting instance, e.g. {\"business_key\": \"CHG-000042\"}.",
        # Each value is a single value, never a list or an object (the validator below says so too).
        "additionalProperties": {"nullable": True, "oneOf": [{"type": "string"}, {"type": "number"},
                                                             {"type": "boolean"}]}})
    payload = fields.Dict(keys=fields.String(), load_default=dict)

    @validates("correlation_keys")
    def _scalar_keys(self, value: dict[str, Any], **_: Any) -> None:
        for name, key in value.items():
            if isinstance(key, (dict, list)):
                raise ValidationError(f"'{name}' must be a single value.")


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()


# -- external tasks ---------------------------------------------------------------------------------------

MAX_LOCK_MS = 7 * 24 * 3600 * 1000  # a week: longer locks hide crashed workers for too long


class TopicRequestSchema(Schema):
    topic = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"example": "build"})
    lock_duration = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_LOCK_MS), metadata={
        "description": "How long the tasks stay locked to this worker, in milliseconds.", "example": 300000})


class FetchAndLockRequestSchema(Schema):
    worker_id = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "Names the worker; only it may complete, fail or extend the tasks it locked."})
    max_tasks = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))
    topics = fields.List(fields.Nested(TopicRequestSchema), required=True, validate=validate.Length(min=1, max=50))


class ExternalTaskSchema(_WorkItemSchema):
    topic = fields.String()
    state = fields.Enum(ExternalTaskStatus, by_value=True)
    worker_id = fields.String(allow_none=True)
    lock_expires_at = fields.DateTime(allow_none=True)
    retries = fields.Integer(allow_none=True)
    retry_at = fields.DateTime(allow_none=True)
    error_message = fields.String(allow_none=True)
    created_at = fields.DateTime()


class LockedExternalTaskSchema(ExternalTaskSchema):
    variables = fields.Dict(metadata={"description": "The process data when the task was locked."})


class ExternalCompleteRequestSchema(Schema):
    worker_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    variables = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "Process variables to set; names start with a letter (letters, digits, '_'). When the "
                       "service task names a form (formKey), the variables are validated against it."})


class ExternalFailureRequestSchema(Schema):
    worker_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    error_message = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    retries = fields.Integer(required=True, validate=validate.Range(min=0, max=1000), metadata={
        "description": "Retries left. At 0 the failure becomes an incident on the instance."})
    retry_timeout = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_LOCK_MS), metadata={
        "description": "Milliseconds before the task can be fetched again."})


class ExtendLockRequestSchema(Schema):
    worker_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    new_duration = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_LOCK_MS), metadata={
        "description": "The lock now ends this many milliseconds from now."})
