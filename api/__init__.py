"""The HTTP API (flask-smorest) and the CLI: thin adapters from Flask to the engine, roles and forms."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Flask, Response, send_from_directory
from flask_smorest import Api
from werkzeug.exceptions import NotFound

from api import (
    cab,
    catalog,
    errors,
    external_tasks,
    health,
    instances,
    kpis,
    messages,
    people,
    process_models,
    requests,
    schedule,
    tasks,
    versioning,
)
from api import notifications as notification_routes
from api.errors import PROBLEM_JSON
from api.schemas import ProblemSchema

BLUEPRINTS = (process_models.blp, instances.blp, tasks.blp, external_tasks.blp, messages.blp, people.blp,
              health.blp, versioning.blp, schedule.blp, schedule.feeds, cab.blp, catalog.blp, kpis.blp,
              notification_routes.blp)


SWAGGER_UI_ASSETS = Path(swagger_ui_bundle.swagger_ui_path)  # Swagger UI, from the swagger-ui-bundle package
SWAGGER_UI_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                              "favicon-16x16.png", "favicon-32x32.png"})
# The docs page loads only what the app serves: no CDN, on a page where admins paste tokens.
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")


class ProblemApi(Api):
    """flask-smorest's Api, whose documented default error is our RFC 7807 problem, not its own error body,
    and whose Swagger UI is served by the app itself."""

    ERROR_SCHEMA = ProblemSchema

    def _register_swagger_ui_rule(self, blueprint: Blueprint) -> None:
        super()._register_swagger_ui_rule(blueprint)
        blueprint.add_url_rule("/docs/assets/<path:filename>", endpoint="swagger_ui_asset",
                               view_func=_swagger_ui_asset)
        blueprint.after_request(_docs_policy)

    def _register_responses(self) -> None:
        self.spec.components.response("DEFAULT_ERROR", {
            "description": "Any other error, as a problem. A 5xx is a bug: please report it.",
            "content": {PROBLEM_JSON: {"schema": ProblemSchema}},
        }, lazy=True)


def _swagger_ui_asset(filename: str) -> Response:
    if filename not in SWAGGER_UI_FILES:
        raise NotFound()
    return send_from_directory(SWAGGER_UI_ASSETS, filename, max_age=86_400)


def _docs_policy(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", DOCS_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def init_app(app: Flask) -> Api:
    """Register the blueprints, the OpenAPI document (/api/openapi.json, /api/docs) and error handlers."""
    app.config.setdefault("API_TITLE", "Changeflow")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "/docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", "/api/docs/assets/")
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
