"""Human tasks: the task list, a task with its form, and claiming, assigning and completing."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import PAGINATION_HEADERS, page_request, paged, problems
from api.schemas import (
    AssignRequestSchema,
    CompleteRequestSchema,
    CompletionSchema,
    TaskDetailSchema,
    TaskQueryArgs,
    TaskSchema,
)
from engine import ClaimTask, CompleteTask, TaskQuery, TaskStatus, UnclaimTask
from itsm.accounts import AssignTaskTo
from roles.policy import Action, Principal, authorizer
from schedule.views import live_conflicts

blp = protect(Blueprint("tasks", __name__, url_prefix="/api/tasks",
                        description="Human tasks: what people work on."))


@blp.route("")
class Tasks(MethodView):
    @blp.arguments(TaskQueryArgs(), location="query", unknown=RAISE)  # an instance: not one per request
    @blp.response(200, TaskSchema(many=True), headers=PAGINATION_HEADERS)
    @problems(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Your task list.

        By default (`scope=actionable`): the open tasks you can work on now, in the roles you hold, that
        are unassigned or assigned to you and that no separation-of-duties rule bars you from. With
        `scope=all`: every task in the practices where you hold a role (pass `state` to see completed or
        cancelled ones). The filters narrow either scope.
        """
        page = page_request(args)
        return paged(changeflow().engine.list_tasks(task_query(principal(), args), page), page)


@blp.route("/<string:task_id>")
class Task(MethodView):
    @blp.response(200, TaskDetailSchema)
    @problems(blp, 404)
    def get(self, task_id: str) -> Any:
        """A task with its form as JSON Schema (pre-filled from the process data) and the data it shows.

        `schedule_conflicts` lists the conflicts of the record's planned window as the schedule stands now."""
        detail = changeflow().engine.task_detail(task_id, authorize=authorizer(principal(), Action.VIEW_TASK))
        return {**asdict(detail.task), "form": detail.form, "data": detail.data,
                "instance_status": detail.instance_status, "requester": detail.requester,
                "schedule_conflicts": live_conflicts(changeflow().database, detail.task.business_key)}


@blp.route("/<string:task_id>/claim")
class Claim(MethodView):
    @blp.response(200, TaskSchema)
    @problems(blp, 403, 404, 409)
    def post(self, task_id: str) -> Any:
        """Take a task. Claiming a task you already hold changes nothing; one held by someone else is a 409."""
        return _run(ClaimTask(task_id), Action.CLAIM)


@blp.route("/<string:task_id>/unclaim")
class Unclaim(MethodView):
    @blp.response(200, TaskSchema)
    @problems(blp, 403, 404, 409)
    def post(self, task_id: str) -> Any:
        """Give a task back to its queue (its holder, or a manager, owner or admin)."""
        return _run(UnclaimTask(task_id), Action.UNCLAIM)


@blp.route("/<string:task_id>/assign")
class Assign(MethodView):
    @blp.arguments(AssignRequestSchema)
    @blp.response(200, TaskSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], task_id: str) -> Any:
        """Assign a task to a user who holds its role (managers, owners, admins)."""
        # The assignee's account and roles are read inside the command's transaction (AssignTaskTo).
        return _run(AssignTaskTo(task_id, body["user"]), Action.ASSIGN)


@blp.route("/<string:task_id>/complete")
class Complete(MethodView):
    @blp.arguments(CompleteRequestSchema())
    @blp.response(200, CompletionSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], task_id: str) -> Any:
        """Complete a task with its form data; the answer gives the instance's status and its next tasks.

        The holder may complete it, or anyone in its role while it is unclaimed. The data is validated
        against the task's form: field errors are a 422 and change nothing.
        """
        return _run(CompleteTask(task_id, data=body["data"]), Action.COMPLETE)


def _run(command: Any, action: Action) -> Any:
    return changeflow().engine.run(command, actor=principal().username,
                                   authorize=authorizer(principal(), action))


def task_query(caller: Principal, args: dict[str, Any]) -> TaskQuery:
    """Translate the list's query parameters into a store query for this caller."""
    state = args.get("state")
    assignee = args.get("assignee")
    filters: dict[str, Any] = {
        "process_key": args.get("process"),
        "instance_id": args.get("instance"),
        "role": args.get("role"),
        "unassigned": assignee == "none",
        "assignee": caller.username if assignee == "me" else (None if assignee in (None, "none") else assignee),
        "sort": args.get("sort", "created"),
    }
    if args["scope"] == "actionable":
        # Only open tasks can be worked on: any other state lists nothing here (scope=all lists them). An
        # empty list rather than a 422, because the OpenAPI document cannot state a rule across parameters.
        queues = caller.queues() if state in (None, TaskStatus.OPEN) else ()
        return TaskQuery(statuses=(TaskStatus.OPEN,), queues=queues, workable_by=caller.username, **filters)
    return TaskQuery(statuses=(state or TaskStatus.OPEN,), practices=caller.visible_practices(), **filters)
