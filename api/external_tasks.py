"""External tasks: service tasks that workers outside the engine (CI/CD pipelines, scripts) carry out.

The pattern is Camunda 7's: a worker fetches and locks tasks by topic, then completes them with variables,
reports a failure (with retries left and a retry timeout), or extends its lock. A worker calls with the
token of a user; it gets and may act on the tasks of the roles and practices that user holds.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import problems
from api.schemas import (
    CompletionSchema,
    ExtendLockRequestSchema,
    ExternalCompleteRequestSchema,
    ExternalFailureRequestSchema,
    ExternalTaskSchema,
    FetchAndLockRequestSchema,
    LockedExternalTaskSchema,
)
from engine import CompleteExternalTask, ExtendExternalTaskLock, FetchAndLockExternalTasks, ReportExternalTaskFailure
from roles.policy import Action, authorizer

blp = protect(Blueprint("external_tasks", __name__, url_prefix="/api/external-tasks",
                        description="Service tasks that workers outside the engine fetch, lock and complete."))


@blp.route("/fetch-and-lock")
class FetchAndLock(MethodView):
    @blp.arguments(FetchAndLockRequestSchema)
    @blp.response(200, LockedExternalTaskSchema(many=True))
    @problems(blp, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Lock up to `max_tasks` open tasks of the given topics for this worker, oldest first.

        Only tasks of the roles and practices your user holds are handed out; none may be an empty list.
        Each comes with the process data as `variables`. Tasks whose lock expired (a crashed worker) are
        handed out again; several workers never get the same task.
        """
        caller = principal()
        topics = {topic["topic"]: topic["lock_duration"] for topic in body["topics"]}
        command = FetchAndLockExternalTasks(body["worker_id"], topics, body["max_tasks"], queues=caller.queues())
        return changeflow().engine.run(command, actor=caller.username)


@blp.route("/<string:task_id>/complete")
class Complete(MethodView):
    @blp.arguments(ExternalCompleteRequestSchema)
    @blp.response(200, CompletionSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], task_id: str) -> Any:
        """Complete a task this worker locked; its variables go into the process data and the process moves on.

        409 when another worker holds the task or it is no longer open; 422 when a variable is invalid.
        """
        command = CompleteExternalTask(task_id, body["worker_id"], body["variables"])
        return _run(command)


@blp.route("/<string:task_id>/failure")
class Failure(MethodView):
    @blp.arguments(ExternalFailureRequestSchema)
    @blp.response(200, ExternalTaskSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], task_id: str) -> Any:
        """Report that this worker could not do the task.

        With `retries` above 0 the task goes back to the queue after `retry_timeout` milliseconds. At 0 it
        becomes an incident: the instance stops until a manager retries it.
        """
        command = ReportExternalTaskFailure(task_id, body["worker_id"], error_message=body["error_message"],
                                            retries=body["retries"], retry_timeout_ms=body["retry_timeout"])
        return _run(command)


@blp.route("/<string:task_id>/extend-lock")
class ExtendLock(MethodView):
    @blp.arguments(ExtendLockRequestSchema)
    @blp.response(200, ExternalTaskSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], task_id: str) -> Any:
        """Keep a task locked to this worker for `new_duration` milliseconds from now (409 once it expired)."""
        return _run(ExtendExternalTaskLock(task_id, body["worker_id"], new_duration_ms=body["new_duration"]))


def _run(command: Any) -> Any:
    return changeflow().engine.run(command, actor=principal().username,
                                   authorize=authorizer(principal(), Action.WORK_EXTERNAL))
