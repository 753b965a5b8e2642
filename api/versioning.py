"""Comparing two versions of a process model, and moving running instances from one to another."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import problems
from engine.migrating import migrate_instances, plan_migration
from roles.policy import Action, authorizer

blp = protect(Blueprint("versioning", __name__, url_prefix="/api/process-models",
                        description="What changed between versions, and instance migration between them."))
ELEMENT_ID = validate.Length(min=1, max=200)
POSITIVE = validate.Range(min=1, max=2**31 - 1)  # numbers the integer columns hold


class DiffArgs(Schema):
    against = fields.Integer(load_default=None, validate=POSITIVE, metadata={
        "description": "The version to compare this one with (default: the one before it; version 1 is compared "
                       "with nothing, so all of it is added)."})


class ElementChangeSchema(Schema):
    element_id = fields.String()
    kind = fields.String(metadata={"description": "The BPMN element, e.g. userTask."})
    name = fields.String(allow_none=True)
    change = fields.String(metadata={"enum": ["added", "removed", "changed"]})
    details = fields.List(fields.String(), metadata={"description": "For a change: what differs."})


class VersionDiffSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    against = fields.Integer()
    changes = fields.List(fields.Nested(ElementChangeSchema))


class MigrationRequestSchema(Schema):
    from_version = fields.Integer(required=True, validate=POSITIVE)
    to_version = fields.Integer(required=True, validate=POSITIVE)
    dry_run = fields.Boolean(load_default=True, metadata={
        "description": "True (the default): only report which instances could move. False: move them."})
    mapping = fields.Dict(keys=fields.String(validate=ELEMENT_ID), values=fields.String(validate=ELEMENT_ID),
                          load_default=dict, metadata={
                              "description": "Renamed elements: {element id in from_version: element id in "
                                             "to_version}."})
    instance_ids = fields.List(fields.Integer(validate=POSITIVE), load_default=None,
                               validate=validate.Length(max=10_000), metadata={
                                   "description": "Move only these instances (default: every one that can)."})


class MoveSchema(Schema):
    element_id = fields.String()
    target_id = fields.String(allow_none=True)
    state = fields.String()


class InstancePlanSchema(Schema):
    instance_id = fields.Integer()
    business_key = fields.String()
    status = fields.String()
    can_move = fields.Boolean()
    elements = fields.List(fields.Nested(MoveSchema), metadata={
        "description": "Each element the instance is at, and where it goes in to_version."})
    problems = fields.List(fields.String(), metadata={"description": "Why it cannot move."})


class SkippedSchema(Schema):
    business_key = fields.String()
    reason = fields.String()


class MigrationReportSchema(Schema):
    key = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    dry_run = fields.Boolean()
    instances = fields.List(fields.Nested(InstancePlanSchema))
    moved = fields.List(fields.String(), metadata={"description": "Business keys of the instances moved."})
    skipped = fields.List(fields.Nested(SkippedSchema))


@blp.route("/<process_key:key>/versions/<id:number>/diff")
class VersionDiff(MethodView):
    @blp.arguments(DiffArgs, location="query", unknown=RAISE)
    @blp.response(200, VersionDiffSchema)
    @problems(blp, 404, 422)
    def get(self, args: dict[str, Any], key: str, number: int) -> Any:
        """The elements added, removed and changed from version `against` to this one, by element id."""
        against = args["against"] if args["against"] is not None else number - 1
        changes = changeflow().engine.version_changes(key, against, number)
        return {"key": key, "version": number, "against": against,
                "changes": [change.to_dict() for change in changes]}


@blp.route("/<process_key:key>/migrations")
class Migrations(MethodView):
    @blp.arguments(MigrationRequestSchema)
    @blp.response(200, MigrationReportSchema)
    @problems(blp, 403, 404, 422)
    def post(self, body: dict[str, Any], key: str) -> Any:
        """Move running instances from one version to another (owners of the practice and admins).

        With `dry_run` (the default) nothing changes: each instance of `from_version` is listed with the
        elements it is at, where they go, and whether it can move. Otherwise the instances move in batches,
        one transaction each, each move audited as a `version_changed` event; those that cannot move (or
        changed meanwhile) are listed in `skipped` and stay where they are.
        """
        engine, actor = changeflow().engine, principal().username
        authorize = authorizer(principal(), Action.MIGRATE)
        arguments = (key, body["from_version"], body["to_version"], body["mapping"])
        if body["dry_run"]:
            report = plan_migration(engine, *arguments, actor=actor, authorize=authorize)
        else:
            report = migrate_instances(engine, *arguments, actor=actor, authorize=authorize,
                                       instance_ids=body["instance_ids"])
        return report
