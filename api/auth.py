"""Bearer-token authentication for every API blueprint (the docs and /healthz stay public)."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from api.extension import changeflow
from api.requests import check_request
from roles import accounts
from roles.errors import AuthenticationFailed


def authenticate() -> None:
    """Runs before every protected view: sets ``g.principal`` or answers 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Send your API token as 'Authorization: Bearer <token>'.")
    cf = changeflow()
    with cf.database.reading() as connection:
        authentication = accounts.authenticate(connection, token.strip(), now=cf.now())
    g.principal = authentication.principal
    g.record_token_use = authentication.token_id if authentication.record_use else None


def record_token_use(response: Response) -> Response:
    """After a successful request, note the token's use (rarely: see ``accounts.LAST_USED_RESOLUTION``).

    Done only on success, so that a failed request leaves the database exactly as it was.
    """
    token_id = g.pop("record_token_use", None)
    if token_id is not None and response.status_code < 400:
        cf = changeflow()
        with cf.database.transaction() as session:
            accounts.record_token_use(session, token_id, now=cf.now())
    return response


def protect(blueprint: Blueprint) -> Blueprint:
    """Every view of ``blueprint`` needs a token; then its URL and JSON body are checked (401 before 400)."""
    blueprint.before_request(authenticate)
    blueprint.before_request(check_request)
    blueprint.after_request(record_token_use)
    return blueprint
