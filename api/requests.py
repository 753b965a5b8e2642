"""What a request must be before any view sees it: ids in range, and text our databases can store.

Both databases refuse some input that is valid JSON or a valid URL: PostgreSQL keeps no NUL character in
text or JSON, its integer ids stop at 2**31 - 1, and neither stores NaN or Infinity in a JSON column.
Refusing such input here answers 400 or 404 instead of failing deep inside a query with a 500.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter, IntegerConverter, Map

from api.schemas import MAX_ID
from engine.sandbox import storable_text_problem

NUL = "\x00"


class IdConverter(IntegerConverter):
    """``<id:name>``: a row id, 1 to ``MAX_ID``. Any other number names nothing, so the route answers 404."""

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


class ProcessKeyConverter(BaseConverter):
    """``<process_key:key>``: a process model key. ``validate`` is not one: ``/api/process-models/validate`` is
    the dry-run deploy, and without this a GET there read a process named 'validate' (and a 405 there
    advertised GET, which the OpenAPI document rightly does not list)."""

    regex = r"(?!validate$)[^/]+"
class BusinessKeyConverter(BaseConverter):
    """``<business_key:name>``: a record's business key such as ``CHG-000042`` (never a bare number)."""

    regex = r"[A-Z]{2,10}-[0-9]{1,12}"


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing what is not portable JSON: NaN and Infinity, and nesting too deep to parse."""

    # Bodies keep the order their schemas declare (id first), which reads better and skips a sort per response.
    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _refuse_constant)
        kwargs.setdefault("parse_float", _finite_float)
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None
        problem = _unstorable_text(value)
        if problem:
            raise ValueError(f"The JSON contains {problem}, which cannot be stored.")
        return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a JSON number.")
    return value


def _unstorable_text(value: Any) -> str | None:
    """What in a parsed JSON value no database can store as text (a NUL character, a lone UTF-16
    surrogate such as "\\ud800"), in any string or key, or None. Iterative: no depth limit."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = storable_text_problem(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def check_request() -> None:
    """Runs before every protected view (after authentication): 400 for a malformed URL or JSON body.

    webargs parses bodies with the standard ``json`` module, so the strict parse happens here first.
    """
    if NUL in request.path or any(NUL in key or NUL in value for key, value in request.args.items(multi=True)):
        raise BadRequest("The URL contains a NUL character (%00), which no resource name or filter can hold.")
    if request.is_json:
        body = request.get_data(cache=True)
        if body.strip():
            try:
                current_app.json.loads(body)
            except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise BadRequest(f"The body is not valid JSON: {error}") from None


def init_app(app: Flask) -> None:
    """Install the id converter (before any route uses it) and the strict JSON parser."""
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["process_key"] = ProcessKeyConverter
    app.url_map.converters["business_key"] = BusinessKeyConverter
    app.json = StrictJSONProvider(app)
