"""The change-model catalog: standard change templates, standard changes raised from them, and the maturity
loop's candidates (closed normal changes that succeeded again and again with the same service and plan)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import problems
from api.schemas import InstanceSchema
from catalog import (
    DEFAULT_MIN_SUCCESSES,
    ApproveCandidate,
    PublishTemplate,
    RaiseStandardChange,
    RetireTemplate,
    TemplateContent,
    candidates,
    list_templates,
    template_versions,
)
from engine import NotFound
from roles.policy import Action, PracticeFacts, authorizer, check

blp = protect(Blueprint("catalog", __name__, url_prefix="/api/change-templates",
                        description="The change-model catalog: standard change templates and their use."))

PRACTICE = fields.String(load_default="change", validate=validate.Regexp(r"^[a-z][a-z0-9_-]{0,49}$"),
                         metadata={"description": "The practice whose catalog it is (default change)."})
TEXT = validate.Length(min=1, max=20_000)


class WindowSchema(Schema):
    days = fields.List(fields.String(), required=True, metadata={"example": ["sat", "sun"]})
    start = fields.String(required=True, metadata={"example": "06:00", "description": "HH:MM, UTC"})
    end = fields.String(required=True, metadata={"example": "10:00", "description": "HH:MM, UTC, after start"})


class TemplateSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    version = fields.Integer()
    practice = fields.String()
    status = fields.String(metadata={"description": "active, superseded (a newer version exists) or retired"})
    name = fields.String()
    service = fields.String()
    implementation_plan = fields.String()
    backout_plan = fields.String()
    test_plan = fields.String()
    max_risk = fields.String()
    allowed_windows = fields.List(fields.Nested(WindowSchema))
    source_changes = fields.List(fields.String(), metadata={
        "description": "The closed normal changes a template approved from the maturity loop came from."})
    published_by = fields.String()
    published_at = fields.DateTime()
    retired_by = fields.String(allow_none=True)
    retired_at = fields.DateTime(allow_none=True)


class _ContentSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    max_risk = fields.String(required=True, validate=validate.OneOf(("low", "medium", "high")))
    allowed_windows = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1, max=50), metadata={
        "description": "Weekly windows in UTC: [{days: [mon..sun], start: 'HH:MM', end: 'HH:MM'}]."})
    practice = PRACTICE


class PublishSchema(_ContentSchema):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_-]{0,99}$"),
                        metadata={"example": "server_patching"})
    service = fields.String(required=True, validate=validate.Length(min=1, max=200))
    implementation_plan = fields.String(required=True, validate=TEXT)
    backout_plan = fields.String(required=True, validate=TEXT)
    test_plan = fields.String(required=True, validate=TEXT)


class ApproveSchema(_ContentSchema):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_-]{0,99}$"))
    service = fields.String(required=True, validate=validate.Length(min=1, max=200))
    implementation_plan = fields.String(required=True, validate=TEXT)
    min_successes = fields.Integer(load_default=DEFAULT_MIN_SUCCESSES, validate=validate.Range(min=1, max=1000))


class RaiseSchema(Schema):
    planned_start = fields.String(required=True, metadata={"example": "2026-01-10T07:00:00Z"})
    planned_end = fields.String(required=True, metadata={"example": "2026-01-10T08:00:00Z"})
    title = fields.String(load_default=None, validate=validate.Length(max=200),
                          metadata={"description": "Defaults to the template's name."})
    notes = fields.String(load_default=None, validate=validate.Length(max=20_000),
                          metadata={"description": "The specifics of this change."})


class ListArgs(Schema):
    practice = PRACTICE
    include_retired = fields.Boolean(load_default=False)


class CandidateArgs(Schema):
    practice = PRACTICE
    min_successes = fields.Integer(load_default=DEFAULT_MIN_SUCCESSES, validate=validate.Range(min=1, max=1000))


class CandidateSchema(Schema):
    service = fields.String()
    implementation_plan = fields.String()
    backout_plan = fields.String()
    test_plan = fields.String()
    successes = fields.Integer()
    changes = fields.List(fields.String(), metadata={"description": "Business keys, newest first (at most 20)."})
    last_closed_at = fields.DateTime(allow_none=True)


def _run(command: Any, action: Action) -> Any:
    return changeflow().engine.run(command, actor=principal().username, authorize=authorizer(principal(), action))


def _content(body: dict[str, Any]) -> TemplateContent:
    return TemplateContent(name=body["name"], service=body["service"], implementation_plan=body["implementation_plan"],
                           backout_plan=body["backout_plan"], test_plan=body["test_plan"],
                           max_risk=body["max_risk"], allowed_windows=body["allowed_windows"])


@blp.route("")
class Templates(MethodView):
    @blp.arguments(ListArgs, location="query", unknown=RAISE)
    @blp.response(200, TemplateSchema(many=True))
    @problems(blp, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """The practice's templates (their current versions), by name: anyone with a role in the practice."""
        check(principal(), Action.VIEW_INSTANCE, PracticeFacts(args["practice"]))
        with changeflow().database.snapshot() as session:
            return list_templates(session, args["practice"], include_retired=args["include_retired"])

    @blp.arguments(PublishSchema)
    @blp.response(201, TemplateSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Publish a template, or the next version of one (same `key`): the owner of the practice, admins.

        The new version becomes the active one; the one before it is superseded. `service` must be a service of
        the catalog (`GET /api/services`): 422 otherwise, saying how to add it."""
        return _run(PublishTemplate(body["key"], _content(body), practice=body["practice"]), Action.MANAGE_CATALOG)


@blp.route("/candidates")
class Candidates(MethodView):
    @blp.arguments(CandidateArgs, location="query", unknown=RAISE)
    @blp.response(200, CandidateSchema(many=True))
    @problems(blp, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """The maturity loop: (service, implementation plan) pairs that closed normal changes carried out
        successfully at least `min_successes` times, and that no active template covers (owners, admins)."""
        check(principal(), Action.MANAGE_CATALOG, PracticeFacts(args["practice"]))
        with changeflow().database.snapshot() as session:
            return candidates(session, args["practice"], args["min_successes"])


@blp.route("/candidates/approve")
class ApproveCandidateView(MethodView):
    @blp.arguments(ApproveSchema)
    @blp.response(201, TemplateSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Approve a candidate: it becomes a template (owners, admins). 409 when it no longer has enough
        successes; its backout and test plans come from the latest of its changes."""
        command = ApproveCandidate(key=body["key"], name=body["name"], service=body["service"],
                                   implementation_plan=body["implementation_plan"], max_risk=body["max_risk"],
                                   allowed_windows=body["allowed_windows"], min_successes=body["min_successes"],
                                   practice=body["practice"])
        return _run(command, Action.MANAGE_CATALOG)


def _visible_versions(key: str) -> list[Any]:
    with changeflow().database.snapshot() as session:
        versions = template_versions(session, key)
    if not versions:
        raise NotFound(f"There is no template '{key}'.")
    check(principal(), Action.VIEW_INSTANCE, PracticeFacts(versions[0].practice))
    return versions


@blp.route("/<string:key>")
class Template(MethodView):
    @blp.response(200, TemplateSchema)
    @problems(blp, 404)
    def get(self, key: str) -> Any:
        """A template's current version (active or retired)."""
        return _visible_versions(key)[0]


@blp.route("/<string:key>/versions")
class TemplateVersions(MethodView):
    @blp.response(200, TemplateSchema(many=True))
    @problems(blp, 404)
    def get(self, key: str) -> Any:
        """Every version of a template, newest first."""
        return _visible_versions(key)


@blp.route("/<string:key>/retire")
class Retire(MethodView):
    @blp.response(200, TemplateSchema)
    @problems(blp, 403, 404)
    def post(self, key: str) -> Any:
        """Retire a template: no standard change may be raised from it any more (owners, admins).
        Retiring a retired template changes nothing."""
        return _run(RetireTemplate(key), Action.MANAGE_CATALOG)


@blp.route("/<string:key>/changes")
class RaiseChange(MethodView):
    @blp.arguments(RaiseSchema)
    @blp.response(201, InstanceSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], key: str) -> Any:
        """Raise a standard change from the template's active version: give the window (inside one of the
        template's allowed windows) and the specifics; the template gives the service and the plans.

        Who may: whoever may start `standard_change`. 409 when the template is retired; 422 when the window
        does not fit."""
        _visible_versions(key)
        command = RaiseStandardChange(key, planned_start=body["planned_start"], planned_end=body["planned_end"],
                                      title=body["title"], notes=body["notes"])
        return _run(command, Action.START)
