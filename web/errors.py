"""Error pages: the same engine and policy errors as the API's problems, as HTML a person can act on."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, render_template, request
from werkzeug.exceptions import HTTPException

from engine import Conflict, EngineError, InvalidInput, NotFound
from roles.errors import AlreadyExists, AuthenticationFailed, Denied, DutiesSeparated, Hidden, RolesError, UnknownUser
from web.auth import CsrfFailed

log = logging.getLogger(__name__)

# exception -> (status, heading); subclasses first.
KINDS: list[tuple[type[Exception], int, str]] = [
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Someone else got there first"),
    (InvalidInput, 422, "That did not work"),
    (EngineError, 400, "That did not work"),
    (AuthenticationFailed, 401, "Sign in again"),
    (DutiesSeparated, 403, "Separation of duties"),
    (Denied, 403, "Not allowed"),
    (Hidden, 404, "Not found"),
    (UnknownUser, 404, "Not found"),
    (AlreadyExists, 409, "That exists already"),
    (RolesError, 422, "That did not work"),
]


def error_page(status: int, heading: str, detail: str) -> tuple[str, int]:
    return render_template("error.html", status=status, heading=heading, detail=detail), status


def handle_domain_error(error: Exception) -> tuple[str, int]:
    for cls, status, heading in KINDS:
        if isinstance(error, cls):
            return error_page(status, heading, getattr(error, "detail", str(error)))
    raise error


def handle_csrf(_error: CsrfFailed) -> tuple[str, int]:
    return error_page(400, "The form has expired",
                      "This form was not sent from a page of this site, or your session changed since it was "
                      "shown. Go back, reload the page and send it again.")


def handle_http(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    return error_page(status, error.name, error.description or "")


def handle_unexpected(error: Exception) -> tuple[str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_page(500, "Something went wrong", "An unexpected error occurred; it has been logged.")


def register(blp: Blueprint) -> None:
    blp.register_error_handler(EngineError, handle_domain_error)
    blp.register_error_handler(RolesError, handle_domain_error)
    blp.register_error_handler(CsrfFailed, handle_csrf)
    blp.register_error_handler(HTTPException, handle_http)
    blp.register_error_handler(Exception, handle_unexpected)


def register_app_fallback(app: Flask) -> None:
    """Unknown URLs outside /api get an HTML page; under /api the API's own problem handler still answers."""
    api_handler = app.error_handler_spec.get(None, {}).get(None, {}).get(HTTPException)

    def handle(error: HTTPException) -> Any:
        if request.path.startswith("/api") or request.path == "/healthz":
            if api_handler is not None:
                return api_handler(error)
            return error
        return handle_http(error)

    app.register_error_handler(HTTPException, handle)
