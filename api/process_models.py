"""Process models and their versions: list, read, deploy and validate BPMN diagrams."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import PAGINATION_HEADERS, page_request, paged, problems
from api.schemas import (
    DeployRequestSchema,
    DeployResultSchema,
    PageArgs,
    ProcessModelSchema,
    StartFormSchema,
    ValidateRequestSchema,
    ValidationReportSchema,
    VersionDetailSchema,
    VersionSchema,
    XmlDeployArgs,
)
from engine import DeployVersion, InvalidInput, NotFound, ValidateDeployment
from roles.policy import Action, authorizer

blp = protect(Blueprint("process-models", __name__, url_prefix="/api/process-models",
                        description="BPMN process models and their deployed versions."))
XML_TYPES = ("application/xml", "text/xml", "application/bpmn+xml")


@blp.route("")
class ProcessModels(MethodView):
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, ProcessModelSchema(many=True), headers=PAGINATION_HEADERS)
    @problems(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """List process models with their latest version number."""
        page = page_request(args)
        return paged(changeflow().engine.list_models(None, page), page)


@blp.route("/<process_key:key>")
class ProcessModel(MethodView):
    @blp.response(200, ProcessModelSchema)
    @problems(blp, 404)
    def get(self, key: str) -> Any:
        """One process model."""
        return changeflow().engine.model_view(key)


@blp.route("/<process_key:key>/versions")
class Versions(MethodView):
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, VersionSchema(many=True), headers=PAGINATION_HEADERS)
    @problems(blp, 404, 422)
    def get(self, args: dict[str, Any], key: str) -> Any:
        """The versions of a process model, newest first."""
        page = page_request(args)
        return paged(changeflow().engine.list_versions(key, page), page)

    @blp.arguments(XmlDeployArgs, location="query", unknown=RAISE)
    @blp.doc(requestBody={
        "required": True,
        "description": "JSON {bpmn, practice, name?, comment?, decisions?, forms?}, or the raw BPMN XML with "
                       "Content-Type application/xml (practice, name and comment then go in the query).",
        "content": {
            "application/json": {"schema": DeployRequestSchema},
            "application/xml": {"schema": {"type": "string"}},
        },
    })
    @blp.response(201, DeployResultSchema, description="A new version was deployed.")
    @blp.alt_response(200, schema=DeployResultSchema, description="Identical content: the existing version.")
    @problems(blp, 403, 409, 422)
    def post(self, query: dict[str, Any], key: str) -> Any:
        """Deploy a BPMN diagram as the next version of the process model.

        The process owner of the practice (or an admin) may deploy. Every problem in the diagram is
        reported at once, each with its BPMN element id and line. Identical content answers 200 with the
        version that already holds it. Problems that do not stop the diagram from running (the layout,
        unused timer definitions, user tasks that take the default role) come back as `warnings`.
        """
        body = _deploy_body(query, key)
        command = DeployVersion(key=key, **body)
        result = changeflow().engine.run(command, actor=principal().username,
                                         authorize=authorizer(principal(), Action.DEPLOY))
        return _deploy_result(result), 201 if result.created else 200


@blp.route("/<process_key:key>/versions/<id:number>")
class Version(MethodView):
    @blp.response(200, VersionDetailSchema)
    @problems(blp, 404)
    def get(self, key: str, number: int) -> Any:
        """One version, with its BPMN XML and decision tables."""
        return changeflow().engine.version_view(key, number)


@blp.route("/<process_key:key>/versions/<id:number>/start-form")
class StartForm(MethodView):
    @blp.response(200, StartFormSchema)
    @problems(blp, 404)
    def get(self, key: str, number: int) -> Any:
        """The start form of a version as JSON Schema, as tasks publish theirs (null when it has none)."""
        start = changeflow().engine.start_form(key, number)
        return {"process": start.process, "version": start.version, "start_role": start.start_role,
                "form": start.form}


@blp.route("/validate")
class Validate(MethodView):
    @blp.arguments(ValidateRequestSchema)
    @blp.response(200, ValidationReportSchema)
    @problems(blp, 403, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Run every deploy check on a diagram and store nothing (owners and admins)."""
        command = ValidateDeployment(key=body.pop("key"), practice=body.pop("practice"), bpmn=body.pop("bpmn"),
                                     decisions=_decisions(body.pop("decisions")), forms=body.pop("forms"),
                                     default_role=body.pop("default_role"), process_id=body.pop("process_id"))
        report = changeflow().engine.run(command, actor=principal().username,
                                         authorize=authorizer(principal(), Action.DEPLOY))
        return {"valid": True, **report.__dict__}


def _decisions(value: list[str] | None) -> tuple[str, ...] | None:
    return tuple(value) if value is not None else None


def _deploy_body(query: dict[str, Any], key: str) -> dict[str, Any]:
    """The deploy request from either a JSON body or a raw XML body plus query parameters."""
    if request.mimetype in XML_TYPES:
        bpmn = request.get_data(as_text=True)
        if not bpmn.strip():
            raise InvalidInput("The request body is empty.", errors={"bpmn": ["Send the BPMN XML as the body."]})
        practice = query["practice"] or _existing_practice(key)
        return {"bpmn": bpmn, "practice": practice, "name": query["name"], "comment": query["comment"],
                "default_role": query["default_role"], "process_id": query["process_id"]}
    payload = request.get_json(silent=True)
    if payload is None:
        raise InvalidInput("Send JSON (Content-Type: application/json) or BPMN XML (application/xml).",
                           errors={"body": ["Expected a JSON object or BPMN XML."]})
    body = DeployRequestSchema().load(payload)
    body["decisions"] = _decisions(body["decisions"])
    return body


def _existing_practice(key: str) -> str:
    try:
        return changeflow().engine.model_view(key).practice
    except NotFound:
        raise InvalidInput("A new process model needs its practice.",
                           errors={"practice": ["Pass ?practice=change (or another practice)."]}) from None


def _deploy_result(result: Any) -> dict[str, Any]:
    version = result.version
    return {"key": version.key, "version": version.version, "sha256": version.sha256,
            "practice": version.practice, "created": result.created, "warnings": result.warnings}
