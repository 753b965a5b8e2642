"""The process-owner studio: draw a process in the browser, check it, edit its forms and decision tables, deploy.

The modeler page (bpmn-js, bundled in ``web/static/studio-modeler.js``) posts JSON to the endpoints here. They
run the same commands as the API (``ValidateDeployment``, ``DeployVersion``) under the same policy: only the
process owner of the model's practice, or an admin, may open the studio of a model or do anything in it.

The studio works on what is deployed: it opens the latest version's diagram, decision tables and forms, and a
deploy from it sends those forms along with the ones edited on the page, so a form changed here stays changed
in the next version even though ``forms/definitions/`` (the shipped source) still holds the old one.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from markupsafe import Markup

from engine import DeployError, DeployVersion, InvalidInput, PageRequest, ValidateDeployment
from engine.views import ModelView, ProcessFacts, VersionView
from forms import FormDefinition, FormDefinitionError
from roles.errors import Denied
from roles.policy import Action, Role, authorizer, check, may, role_for_lane
from web.auth import csrf_token
from web.context import me, web
from web.forms import html_fields

LANE_NAMES = ("Process Owner", "owner", "Process Manager", "manager", "Practitioner", "practitioner")
SANDBOX_RULES = (
    "Scripts, conditions and timer expressions are Python, run in a sandbox. Process variables are plain names. "
    "Available: len, min, max, sum, abs, round, sorted, any, all, enumerate, zip, range, str, int, float, bool, "
    "list, dict, tuple, isinstance, math (functions only), datetime, date, timedelta, timezone, now() (the "
    "engine's clock, UTC), today(), parse_datetime(text), parse_date(text). Not available: imports, names or "
    "attributes starting with _, open, exec, eval, class definitions, print(). Variables left behind must be "
    "JSON-like (None, bool, numbers, text, lists, dicts, dates). A script may run 2 seconds at most."
)
MAX_MODELS = 500  # the studio index lists models on one page


def _model(key: str) -> ModelView:
    """The model, once the signed-in person may deploy it (else Denied, 403; an unknown key is 404)."""
    model = web().engine.model_view(key)
    check(me(), Action.DEPLOY, ProcessFacts(model.key, model.practice))
    return model


def may_use_studio() -> bool:
    """Whether the signed-in person owns a practice (or is an admin): the navigation shows them the studio."""
    return me().is_admin or any(role == Role.OWNER.value for role, _ in me().grants)


def index() -> Any:
    """The models the signed-in person may edit (owners see their practices' models, admins all)."""
    if not may_use_studio():
        raise Denied("The studio is for process owners and admins.")
    listing = web().engine.list_models(None, PageRequest(1, MAX_MODELS))
    models = [model for model in listing.items if may(me(), Action.DEPLOY, ProcessFacts(model.key, model.practice))]
    return render_template("studio/index.html", models=models)


def _services() -> list[dict[str, Any]]:
    """The registered services with their parameters, for the service task picker."""
    registry = web().engine.services
    services = []
    for name in registry.names():
        function = registry.get(name)
        parameters = list(inspect.signature(function).parameters.values())[1:]
        services.append({
            "name": name,
            "doc": (inspect.getdoc(function) or "").split("\n\n")[0],
            "parameters": [{"name": p.name, "required": p.default is inspect.Parameter.empty}
                           for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)],
        })
    return services


def _latest(model: ModelView) -> VersionView | None:
    return web().engine.version_view(model.key, model.latest_version) if model.latest_version else None


def modeler(key: str) -> Any:
    """The modeler page of one process model: its latest version, ready to edit."""
    model = _model(key)
    latest = _latest(model)
    config = {
        "key": model.key,
        "practice": model.practice,
        "version": model.latest_version,
        "bpmn": latest.bpmn if latest else "",
        "decisions": latest.decisions if latest else [],
        "forms": latest.form_definitions if latest else {},
        "formKeys": sorted(web().forms),
        "services": _services(),
        "laneRoles": {name.lower(): role_for_lane(name) for name in LANE_NAMES},
        "sandboxRules": SANDBOX_RULES,
        "csrf": csrf_token(),
        "urls": {"validate": url_for("web.studio_validate", key=model.key),
                 "deploy": url_for("web.studio_deploy", key=model.key),
                 "formPreview": url_for("web.studio_form_preview", key=model.key)},
    }
    # <script type="application/json">: "</" is escaped so the diagram's text cannot close the element.
    payload = Markup(json.dumps(config).replace("</", "<\\/"))  # noqa: S704 - JSON, with "</" escaped
    return render_template("studio/modeler.html", model=model, latest=latest, config=payload,
                           form_keys=sorted(set(config["formKeys"]) | set(config["forms"])))


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Send a JSON object.", errors={"body": ["Expected a JSON object."]})
    return body


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"'{name}' must be text.", errors={name: ["Send it as a string."]})
    return value


def _deploy_input(model: ModelView, body: dict[str, Any]) -> dict[str, Any]:
    """The diagram, decision tables and forms of a studio request, as the deploy commands take them.

    The forms are the latest version's, overlaid with the ones the page edited: the studio edits what is
    deployed (see the module's docstring).
    """
    bpmn = _text(body, "bpmn", required=True)
    decisions = body.get("decisions")
    if decisions is not None and (not isinstance(decisions, list) or not all(isinstance(d, str) for d in decisions)):
        raise InvalidInput("'decisions' must be a list of DMN documents.", errors={"decisions": ["A list of text."]})
    edited = body.get("forms", {})
    if not isinstance(edited, dict) or not all(isinstance(v, dict) for v in edited.values()):
        raise InvalidInput("'forms' must map form keys to definitions.", errors={"forms": ["An object of objects."]})
    latest = _latest(model)
    forms = {**(latest.form_definitions if latest else {}), **edited}
    return {"key": model.key, "practice": model.practice, "bpmn": bpmn,
            "decisions": tuple(decisions) if decisions is not None else None, "forms": forms}


def _refusal(error: DeployError | InvalidInput) -> tuple[Response, int]:
    """A check that failed, as the page shows it: each problem with its element id."""
    if isinstance(error, DeployError):
        problems = [problem.to_dict() for problem in error.problems]
    else:
        problems = [{"element_id": None, "message": f"{field}: {message}", "line": None}
                    for field, messages in (error.errors or {}).items() for message in messages]
    return jsonify({"valid": False, "detail": error.detail, "problems": problems, "warnings": []}), 422


def validate(key: str) -> Any:
    """Run every deploy check on the page's diagram (the code deploy runs) and store nothing."""
    model = _model(key)
    command = ValidateDeployment(**_deploy_input(model, _json_body()))
    try:
        report = web().engine.run(command, actor=me().username, authorize=authorizer(me(), Action.DEPLOY))
    except (DeployError, InvalidInput) as error:
        return _refusal(error)
    return jsonify({"valid": True, "problems": [], "warnings": report.warnings, "sha256": report.sha256})


def deploy(key: str) -> Any:
    """Deploy the page's diagram as the next version, with the comment, as the signed-in owner."""
    model = _model(key)
    body = _json_body()
    comment = (_text(body, "comment") or "").strip() or None
    command = DeployVersion(**_deploy_input(model, body), comment=comment)
    try:
        result = web().engine.run(command, actor=me().username, authorize=authorizer(me(), Action.DEPLOY))
    except (DeployError, InvalidInput) as error:
        return _refusal(error)
    version = result.version
    return jsonify({"version": version.version, "created": result.created, "sha256": version.sha256,
                    "deployed_by": version.deployed_by, "comment": version.comment,
                    "warnings": result.warnings}), 201 if result.created else 200


def form_preview(key: str) -> Any:
    """A form definition checked by the form rules and rendered as the task page renders it."""
    _model(key)
    body = _json_body()
    form_key = _text(body, "key", required=True) or ""
    definition = body.get("definition")
    if not isinstance(definition, dict):
        return jsonify({"problems": ["The form must be a JSON object."], "html": None})
    try:
        form = FormDefinition.from_dict(form_key, definition)
    except FormDefinitionError as error:
        return jsonify({"problems": list(error.problems), "html": None})
    html = render_template("studio/_form_preview.html", form=form, fields=html_fields(form, {}))
    return jsonify({"problems": [], "html": html})


def register(blp: Blueprint) -> None:
    blp.add_app_template_global(may_use_studio, "may_use_studio")
    blp.add_url_rule("/studio", "studio", index)
    blp.add_url_rule("/studio/<string:key>", "studio_modeler", modeler)
    blp.add_url_rule("/studio/<string:key>/validate", "studio_validate", validate, methods=["POST"])
    blp.add_url_rule("/studio/<string:key>/deploy", "studio_deploy", deploy, methods=["POST"])
    blp.add_url_rule("/studio/<string:key>/forms/preview", "studio_form_preview", form_preview, methods=["POST"])
