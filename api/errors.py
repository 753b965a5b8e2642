"""One error payload for the whole API: RFC 7807 ``application/problem+json``.

The table below is the only place where engine and roles errors become HTTP statuses. Routes never catch
exceptions: they raise, and these handlers answer. A 5xx is a bug; its body never carries a traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, json, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from engine import Conflict, DeployError, EngineError, InvalidInput, NotFound, StateUnreadable
from roles.errors import (
    AlreadyExists,
    AuthenticationFailed,
    Denied,
    DutiesSeparated,
    Hidden,
    InvalidValue,
    RolesError,
    UnknownUser,
)

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Kind:
    status: int
    slug: str


# The one table: exception class -> HTTP status and problem type. Order matters (subclasses first).
ERROR_KINDS: list[tuple[type[Exception], Kind]] = [
    (DeployError, Kind(422, "invalid-bpmn")),
    (InvalidInput, Kind(422, "validation-failed")),
    (NotFound, Kind(404, "not-found")),
    (Conflict, Kind(409, "conflict")),
    (StateUnreadable, Kind(409, "state-unreadable")),  # an instance saved by a newer engine: not a crash
    (EngineError, Kind(400, "bad-request")),
    (AuthenticationFailed, Kind(401, "unauthenticated")),
    (DutiesSeparated, Kind(403, "separation-of-duties")),
    (Denied, Kind(403, "forbidden")),
    (Hidden, Kind(404, "not-found")),
    (UnknownUser, Kind(404, "not-found")),
    (AlreadyExists, Kind(409, "conflict")),
    (InvalidValue, Kind(422, "validation-failed")),
    (RolesError, Kind(400, "bad-request")),
]


def problem_type(slug: str) -> str:
    return f"urn:changeflow:problem:{slug}"


def problem(status: int, detail: str, *, slug: str | None = None, title: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """A problem+json response."""
    phrase = HTTPStatus(status).phrase
    body = {
        "type": problem_type(slug) if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail,
        "instance": quote(request.path, safe="/:@!$&'()*+,;=~"),  # a URI reference, so %-encoded
        **{key: value for key, value in extra.items() if value is not None},
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _kind_of(error: Exception) -> Kind:
    for cls, kind in ERROR_KINDS:
        if isinstance(error, cls):
            return kind
    raise LookupError(type(error))


def handle_domain_error(error: EngineError | RolesError) -> Response:
    kind = _kind_of(error)
    extra: dict[str, Any] = {}
    if isinstance(error, DeployError):
        extra["errors"] = [p.to_dict() for p in error.problems]
    elif isinstance(error, InvalidInput):
        extra["errors"] = error.errors or None
    elif isinstance(error, RolesError) and error.field:  # the request field at fault (invalid, or taken)
        extra["errors"] = {error.field: [error.detail]}
    if isinstance(error, EngineError) and error.context:
        extra["context"] = error.context
    headers = {"WWW-Authenticate": 'Bearer realm="changeflow"'} if kind.status == 401 else None
    return problem(kind.status, error.detail, slug=kind.slug, headers=headers, **extra)


def handle_http_exception(error: HTTPException) -> Response:
    """Werkzeug and webargs errors (bad JSON, failed argument validation, unknown route, 405...)."""
    status = error.code or 500
    if status >= 500 and status != 503:
        # Werkzeug's own 500 (what Flask answers for an error outside the view, in an after_request hook)
        # is a bug like any other: the same problem type, and the cause in the log.
        original = getattr(error, "original_exception", None) or error
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
        return problem(status, "An unexpected error occurred; it has been logged. Please report it.",
                       slug="internal-error")
    data = getattr(error, "data", None) or {}
    errors = _flatten(data.get("messages") or data.get("errors"))
    if status == 422 and errors:
        detail = "The request does not validate: " + "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        return problem(422, detail, slug="validation-failed", errors=errors)
    detail = data.get("message") or error.description or HTTPStatus(status).phrase
    if status == 400 and errors:
        detail = "; ".join(" ".join(messages) for messages in errors.values())
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}  # Allow...
    return problem(status, detail, headers={**headers, **dict(data.get("headers") or {})})


def handle_validation_error(error: ValidationError) -> Response:
    """A body validated by hand (when it may come in more than one content type)."""
    messages = error.messages if isinstance(error.messages, dict) else {"body": error.messages}
    errors = dict(_walk(messages))
    detail = "The request does not validate: " + "; ".join(
        f"{field}: {' '.join(texts)}" for field, texts in errors.items())
    return problem(422, detail, slug="validation-failed", errors=errors)


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "An unexpected error occurred; it has been logged. Please report it.",
                   slug="internal-error")


def _flatten(messages: Any) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {"field": [...]}}); clients want {"field": [...]}."""
    if not isinstance(messages, dict):
        return {}
    flat: dict[str, list[str]] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            for name, value in _walk(fields):
                flat.setdefault(name, []).extend(value)
        else:
            flat.setdefault(location, []).extend(fields if isinstance(fields, list) else [str(fields)])
    return flat


def _walk(fields: dict[str, Any], prefix: str = "") -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for name, value in fields.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            out.extend(_walk(value, f"{path}."))
        else:
            out.append((path, [str(v) for v in value] if isinstance(value, list) else [str(value)]))
    return out


def init_app(app: Flask) -> None:
    app.register_error_handler(EngineError, handle_domain_error)
    app.register_error_handler(RolesError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(Exception, handle_unexpected)
