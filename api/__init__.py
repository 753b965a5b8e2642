"""The HTTP API (flask-smorest) and the CLI: thin adapters from Flask to the engine, roles and forms."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from api import errors, external_tasks, health, instances, messages, people, process_models, requests, tasks
from api.errors import PROBLEM_JSON
from api.schemas import ProblemSchema

BLUEPRINTS = (process_models.blp, instances.blp, tasks.blp, external_tasks.blp, messages.blp, people.blp,
              health.blp)


class ProblemApi(Api):
    """flask-smorest's Api, whose documented default error is our RFC 7807 problem, not its own error body."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        self.spec.components.response("DEFAULT_ERROR", {
            "description": "Any other error, as a problem. A 5xx is a bug: please report it.",
            "content": {PROBLEM_JSON: {"schema": ProblemSchema}},
        }, lazy=True)


def init_app(app: Flask) -> Api:
    """Register the blueprints, the OpenAPI document (/api/openapi.json, /api/docs) and error handlers."""
    app.config.setdefault("API_TITLE", "Changeflow")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "/docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "Workflow-as-code BPMN engine for ITIL change enablement and release "
                                "management. Every call but /healthz needs `Authorization: Bearer <token>`. "
                                "Errors are RFC 7807 `application/problem+json`."},
        "security": [{"bearerAuth": []}],
    })
    requests.init_app(app)  # before the blueprints: their routes use its converter
    api = ProblemApi(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    errors.init_app(app)  # after Api, so that our problem+json handler replaces flask-smorest's
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    return api
