"""Bearer-token authentication for every API blueprint (the docs and /healthz stay public)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, request
from sqlalchemy.exc import OperationalError

from api.extension import changeflow
from api.requests import check_request
from engine.prepared import Prepared
from roles import accounts
from roles.errors import AuthenticationFailed

log = logging.getLogger(__name__)
# Every request runs it: one indexed read on the driver's cursor, no cache, so that a revoked token or a
# disabled user is refused by the very next request, in every server process.
_TOKEN_WITH_GRANTS = Prepared(accounts.TOKEN_WITH_GRANTS)


def authenticate() -> None:
    """Runs before every protected view: sets ``g.principal`` or answers 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Send your API token as 'Authorization: Bearer <token>'.")
    cf = changeflow()
    with cf.database.reading() as connection:
        rows = _TOKEN_WITH_GRANTS.rows(connection, {"token_hash": accounts.hash_token(token.strip())})
    authentication = accounts.authentication_of(rows, now=cf.now())
    g.principal = authentication.principal
    g.record_token_use = authentication.token_id if authentication.record_use else None


def record_token_use(response: Response) -> Response:
    """After a successful request, note the token's use (rarely: see ``accounts.LAST_USED_RESOLUTION``).

    Done only on success, so that a failed request leaves the database exactly as it was, and only when
    no lock stands in the way: a read never waits for a writer (on SQLite, for the whole database) just to
    note the time. A skipped note is made by a later request.
    """
    token_id = g.pop("record_token_use", None)
    if token_id is not None and response.status_code < 400:
        cf = changeflow()
        try:
            with cf.database.writing_nowait() as connection:
                accounts.record_token_use(connection, token_id, now=cf.now())
        except OperationalError as error:
            log.debug("the last use of token %s waits for a later request: %s", token_id, error)
    return response


def protect(blueprint: Blueprint) -> Blueprint:
    """Every view of ``blueprint`` needs a token; then its URL and JSON body are checked (401 before 400)."""
    blueprint.before_request(authenticate)
    blueprint.before_request(check_request)
    blueprint.after_request(record_token_use)
    return blueprint
