"""Messages from outside (other systems, other processes) to the instance waiting for them."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import problems
from api.schemas import InstanceSchema, MessageRequestSchema
from engine import CorrelateMessage
from roles.policy import Action, authorizer

blp = protect(Blueprint("messages", __name__, url_prefix="/api/messages",
                        description="Deliver BPMN messages to waiting instances."))


@blp.route("")
class Messages(MethodView):
    @blp.arguments(MessageRequestSchema)
    @blp.response(200, InstanceSchema)
    @problems(blp, 404, 409, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Deliver a message to the one instance waiting for it with these correlation keys.

        404 when no instance waits for it (or none you may see), 409 when several do, 422 when the payload
        lacks a value the waiting event correlates on. The answer is the instance after it moved on.
        """
        command = CorrelateMessage(body["name"], body["correlation_keys"], body["payload"],
                                   practices=principal().visible_practices())
        return changeflow().engine.run(command, actor=principal().username,
                                       authorize=authorizer(principal(), Action.SEND_MESSAGE))
