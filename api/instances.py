"""Process instances: start them, follow them, and manage their lifecycle."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import PAGINATION_HEADERS, page_request, paged, problems
from api.schemas import (
    EventSchema,
    InstanceQueryArgs,
    InstanceSchema,
    NoteRequestSchema,
    PageArgs,
    ReasonSchema,
    RetryRequestSchema,
    StartRequestSchema,
)
from engine import (
    AddWorkNote,
    CancelInstance,
    InstanceQuery,
    ResumeInstance,
    RetryInstance,
    SuspendInstance,
)
from engine.views import InstanceView
from roles.policy import Action, authorizer, check
from schedule.commands import StartWithSchedule

blp = protect(Blueprint("instances", __name__, url_prefix="/api/instances",
                        description="Running and finished process instances."))


def visible_instance(instance_id: int) -> InstanceView:
    """The instance, if the caller may see it (404 otherwise, as if it did not exist)."""
    view = changeflow().engine.instance_view(instance_id)
    check(principal(), Action.VIEW_INSTANCE, view)
    return view


@blp.route("")
class Instances(MethodView):
    @blp.arguments(InstanceQueryArgs, location="query", unknown=RAISE)
    @blp.response(200, InstanceSchema(many=True), headers=PAGINATION_HEADERS)
    @problems(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Instances in the practices where you hold a role, newest first."""
        page = page_request(args)
        query = InstanceQuery(
            practices=principal().visible_practices(), process_key=args.get("process"),
            statuses=(args["status"],) if args.get("status") else (), started_by=args.get("started_by"),
            business_key=args.get("business_key"), service=args.get("service"),
            started_from=args.get("started_from"), started_until=args.get("started_until"),
        )
        return paged(changeflow().engine.list_instances(query, page), page)

    @blp.arguments(StartRequestSchema())
    @blp.response(201, InstanceSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Start an instance of a process (its latest version unless `version` is given).

        `data` is validated against the start event's form when the diagram declares one. The answer is
        the new instance with its first open tasks. A change's planned window must respect its model's lead
        time (a start in the past is refused, naming the field); a release's `change_keys` must be open
        changes that no other release carries. A normal change's `data.schedule_conflicts` lists the
        conflicts of its window (a warning: the change is raised all the same).
        """
        command = StartWithSchedule(process=body["process"], data=body["data"], version=body["version"])
        return changeflow().engine.run(command, actor=principal().username,
                                       authorize=authorizer(principal(), Action.START))


@blp.route("/<id:instance_id>")
class Instance(MethodView):
    @blp.response(200, InstanceSchema)
    @problems(blp, 404)
    def get(self, instance_id: int) -> Any:
        """An instance: status, data, open tasks, version and any incident."""
        return visible_instance(instance_id)


@blp.route("/<business_key:business_key>")
class InstanceByKey(MethodView):
    @blp.response(200, InstanceSchema)
    @problems(blp, 404)
    def get(self, business_key: str) -> Any:
        """An instance by its business key (`CHG-000001`, `REL-000001`): the same answer as by its id."""
        return visible_instance(changeflow().engine.instance_id_of(business_key))


@blp.route("/<id:instance_id>/notes")
class Notes(MethodView):
    @blp.arguments(NoteRequestSchema)
    @blp.response(201, EventSchema)
    @problems(blp, 404, 422)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Add a work note: a comment kept in the instance's trail (anyone who may see the instance)."""
        return changeflow().engine.run(AddWorkNote(instance_id, body["text"]), actor=principal().username,
                                       authorize=authorizer(principal(), Action.VIEW_INSTANCE))


@blp.route("/<id:instance_id>/events")
class Events(MethodView):
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, EventSchema(many=True), headers=PAGINATION_HEADERS)
    @problems(blp, 404, 422)
    def get(self, args: dict[str, Any], instance_id: int) -> Any:
        """The instance's audit trail, oldest first: who did what, when, with what data."""
        page = page_request(args)
        events = changeflow().engine.list_events(instance_id, page,
                                                 authorize=authorizer(principal(), Action.VIEW_INSTANCE))
        return paged(events, page)


def _lifecycle(command: Any) -> Any:
    return changeflow().engine.run(command, actor=principal().username,
                                   authorize=_manage_authorizer())


def _manage_authorizer() -> Any:
    return authorizer(principal(), Action.MANAGE_INSTANCE)


@blp.route("/<id:instance_id>/suspend")
class Suspend(MethodView):
    @blp.arguments(ReasonSchema, required=False)
    @blp.response(200, InstanceSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Suspend an instance: its tasks are held and its timers wait (managers, owners, admins)."""
        return _lifecycle(SuspendInstance(instance_id, reason=(body or {}).get("reason")))


@blp.route("/<id:instance_id>/resume")
class Resume(MethodView):
    @blp.response(200, InstanceSchema)
    @problems(blp, 403, 404, 409)
    def post(self, instance_id: int) -> Any:
        """Resume a suspended instance (managers, owners, admins)."""
        return _lifecycle(ResumeInstance(instance_id))


@blp.route("/<id:instance_id>/cancel")
class Cancel(MethodView):
    @blp.arguments(ReasonSchema, required=False)
    @blp.response(200, InstanceSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Cancel an instance for good; its open tasks are withdrawn (managers, owners, admins).

        In the same transaction, a cancelled change leaves the forward schedule and the releases that carried
        it, and a cancelled release lets its changes go (docs/change-schedule.md)."""
        return _lifecycle(CancelInstance(instance_id, reason=(body or {}).get("reason")))


@blp.route("/<id:instance_id>/retry")
class Retry(MethodView):
    @blp.arguments(RetryRequestSchema, required=False)
    @blp.response(200, InstanceSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Re-run the task an incident stopped at, after merging `data` into it (managers, owners, admins).

        When a person's submission failed (in its task's post-script), `data` corrects that submission: it is
        checked against the task's form, and only someone who may complete the task may send it. Elsewhere
        `data` may not set a field of any of the process's forms (422).
        """
        return _lifecycle(RetryInstance(instance_id, data=(body or {}).get("data") or {},
                                        authorize_form=authorizer(principal(), Action.COMPLETE)))
