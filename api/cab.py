"""The change advisory board: the agenda, the chair's recorded outcomes, and each change model's CAB rule."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import problems
from api.schemas import PRACTICE
from cab.access import agenda_practices, rule_views
from cab.agenda import agenda
from cab.commands import (
    MAX_COMMENT,
    MAX_DECISIONS,
    MAX_QUORUM,
    MAX_VOTE_HOURS,
    CabDecision,
    RecordCabOutcomes,
    SetCabRule,
)
from cab.rules import DecisionRule
from cab.views import RuleView
from engine.store import PageRequest, Store
from roles.policy import Action, Principal, authorizer

blp = protect(Blueprint("cab", __name__, url_prefix="/api/cab",
                        description="The change advisory board: agenda, recorded outcomes, and CAB rules."))

MAX_MODELS = 200  # rules are listed for at most this many process models (the largest page the API serves)


class AgendaArgs(Schema):
    start = fields.AwareDateTime(data_key="from", metadata={
        "description": "Changes planned to start at or after this moment (ISO 8601 with a timezone)."})
    end = fields.AwareDateTime(data_key="to", metadata={
        "description": "Changes planned to start before this moment (ISO 8601 with a timezone)."})
    practice = fields.String(validate=PRACTICE)


class ConflictSchema(Schema):
    kind = fields.String()
    message = fields.String()


class AgendaItemSchema(Schema):
    instance_id = fields.Integer()
    business_key = fields.String()
    process = fields.String(attribute="process_key")
    practice = fields.String()
    title = fields.String(allow_none=True)
    requester = fields.String()
    risk = fields.String(allow_none=True)
    conflicts = fields.List(fields.Dict(), metadata={"description": "Schedule conflicts: {kind, message, ...}."})
    service = fields.String(allow_none=True)
    planned_start = fields.String(allow_none=True)
    planned_end = fields.String(allow_none=True)
    seats = fields.Integer(metadata={"description": "How many CAB members may vote (the requester may not)."})
    quorum = fields.Integer()
    decision_rule = fields.String()
    votes = fields.Dict(keys=fields.String(), values=fields.Integer(),
                        metadata={"description": "Votes so far: {approve, reject, abstain}."})
    deadline = fields.DateTime(allow_none=True, metadata={"description": "When the vote closes by itself."})


class DecisionSchema(Schema):
    business_key = fields.String(required=True, validate=validate.Length(min=1, max=32))
    outcome = fields.String(required=True, validate=validate.OneOf(["approved", "rejected"]))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_COMMENT))


class DecisionsRequestSchema(Schema):
    decisions = fields.List(fields.Nested(DecisionSchema, unknown=RAISE), required=True,
                            validate=validate.Length(min=1, max=MAX_DECISIONS))


class RecordedSchema(Schema):
    business_key = fields.String()
    outcome = fields.String()
    comment = fields.String(allow_none=True)
    chair = fields.String()


class DecisionsResponseSchema(Schema):
    recorded = fields.List(fields.Nested(RecordedSchema))


class RuleRequestSchema(Schema):
    quorum = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_QUORUM),
                            metadata={"description": "Votes that must be cast (abstentions count)."})
    decision_rule = fields.String(required=True, validate=validate.OneOf([rule.value for rule in DecisionRule]),
                                  metadata={"description": "any_reject, majority or unanimous."})
    vote_hours = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_VOTE_HOURS),
                                metadata={"description": "How long the vote stays open before it closes itself."})


class RuleSchema(Schema):
    process = fields.String(attribute="process_key")
    practice = fields.String()
    quorum = fields.Integer()
    decision_rule = fields.String()
    vote_hours = fields.Integer()
    is_default = fields.Boolean(metadata={"description": "True when the owner set no rule: the defaults apply."})
    updated_by = fields.String(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)


def rules_of(caller: Principal) -> list[RuleView]:
    """The CAB rule of every process model the caller may see (the defaults where the owner set none)."""
    cf = changeflow()
    models = cf.engine.list_models(caller.visible_practices(), PageRequest(1, MAX_MODELS)).items
    with cf.database.snapshot() as session:
        return rule_views(session, models)


@blp.route("/agenda")
class Agenda(MethodView):
    @blp.arguments(AgendaArgs, location="query", unknown=RAISE)
    @blp.response(200, AgendaItemSchema(many=True))
    @problems(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """The changes awaiting the CAB, soonest planned start first, with their risk, schedule conflicts,
        service, window and the votes so far.

        `from`/`to` bound the planned start; `practice` narrows to one practice. CAB members, managers and
        owners of a practice (and admins) may read its agenda.
        """
        practices = agenda_practices(principal(), args.get("practice"))
        with changeflow().database.snapshot() as session:
            return agenda(Store(session), practices, start=args.get("start"), end=args.get("end"))


@blp.route("/decisions")
class Decisions(MethodView):
    @blp.arguments(DecisionsRequestSchema)
    @blp.response(200, DecisionsResponseSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Record a CAB meeting's outcome for several changes in one step: each becomes that change's decision
        (the vote closes; approved goes on to implementation, rejected back to the requester).

        All or nothing: if any item is refused (not awaiting the CAB: 409; not visible: 404; not the chair: 403),
        nothing is recorded and the problem names the item. The chair is a manager or owner of the practice.
        """
        decisions = [CabDecision(item["business_key"], item["outcome"], item["comment"]) for item in body["decisions"]]
        recorded = changeflow().engine.run(RecordCabOutcomes(decisions), actor=principal().username,
                                           authorize=authorizer(principal(), Action.CHAIR_CAB))
        return {"recorded": recorded}


@blp.route("/rules")
class Rules(MethodView):
    @blp.response(200, RuleSchema(many=True))
    @problems(blp)
    def get(self) -> Any:
        """The CAB rule of each process model you may see: quorum, decision rule and vote deadline."""
        return rules_of(principal())


@blp.route("/rules/<process_key:key>")
class Rule(MethodView):
    @blp.arguments(RuleRequestSchema)
    @blp.response(200, RuleSchema)
    @problems(blp, 403, 404, 422)
    def put(self, body: dict[str, Any], key: str) -> Any:
        """Set the CAB rule of a change model (its process model key); the model's next CAB reviews use it.

        Only the process owner of the model's practice (or an admin) may.
        """
        command = SetCabRule(key, body["quorum"], body["decision_rule"], body["vote_hours"])
        return changeflow().engine.run(command, actor=principal().username,
                                       authorize=authorizer(principal(), Action.SET_CAB_RULES))
