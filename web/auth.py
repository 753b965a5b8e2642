"""Sign-in for people: password check, session cookie, CSRF protection, sign-out, own password.

The session is Flask's signed cookie: it holds the username, the account's session epoch and a CSRF token.
Every request re-reads the account (one query), so a disabled account or a changed password ends its
sessions at once. Cookies are HttpOnly and SameSite=Lax, and Secure whenever the request came over HTTPS
(behind a proxy, set CHANGEFLOW_TRUST_PROXY=1 so that its X-Forwarded-Proto counts).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, flash, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from roles import accounts
from roles.commands import ChangeOwnPassword, EndSessions
from roles.errors import AuthenticationFailed, InvalidValue
from web.context import me, web

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC_ENDPOINTS = {"web.sign_in", "web.static"}  # the sign-in page and its assets


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked Secure whenever the request itself came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


class CsrfFailed(Exception):
    """The form was not sent by this site's page (its CSRF token is missing or wrong)."""


def csrf_token() -> str:
    """This session's CSRF token (created on first use); every form posts it back."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _check_csrf() -> None:
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not expected or not hmac.compare_digest(str(expected), sent):
        raise CsrfFailed()


def _refuse_nul() -> None:
    """PostgreSQL stores no NUL character in text: a URL or form holding one can name nothing (400, not 500)."""
    values = [request.path, *request.args.keys(), *request.args.values()]
    if request.method == "POST":
        values += [*request.form.keys(), *request.form.values()]
    if any("\x00" in value for value in values):
        abort(400, "The address or the form holds a NUL character (%00), which nothing here can contain.")


def load_person() -> Any:
    """Before every web view: refuse NUL characters, check CSRF on posts, then find the signed-in person or
    send them to sign in."""
    _refuse_nul()
    if request.method == "POST":
        _check_csrf()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    username, epoch = session.get("user"), session.get("epoch")
    if not username or epoch is None:
        return _to_sign_in()
    try:
        with web().database.reading() as connection:
            g.web_principal = accounts.session_principal(connection, username, epoch)
    except AuthenticationFailed as error:
        _forget()
        flash(error.detail, "error")
        return _to_sign_in()
    return None


def _to_sign_in() -> Response:
    target = request.full_path if request.method == "GET" else None
    return redirect(url_for("web.sign_in", next=target.rstrip("?") if target else None))


def _forget() -> None:
    """Drop who is signed in, but keep a CSRF token so that the sign-in form still posts."""
    token = session.get("csrf")
    session.clear()
    if token:
        session["csrf"] = token


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never another host) may follow a sign-in."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("web.inbox")


def sign_in() -> Any:
    """GET: the sign-in form. POST: check the password; a failure is counted and throttles the account.

    Sign-in stays a plain transaction, not a command: nobody is signed in yet to be its actor, and a refused
    sign-in must still commit (the failure counts towards the throttle).
    """
    if request.method == "GET":
        return render_template("sign_in.html", next=request.args.get("next", ""), username="")
    username = request.form.get("username", "").strip().lower()
    password = request.form.get("password", "")
    cf = web()
    with cf.database.transaction() as db:
        try:
            principal = accounts.verify_sign_in(db, username, password, now=cf.now())
        except AuthenticationFailed as error:
            failure = error  # not re-raised, so the transaction commits: the failure count must stick
        else:
            failure = None
            epoch = accounts.get_user(db, username).session_epoch
    if failure is not None:
        status = 429 if isinstance(failure, accounts.SignInThrottled) else 401
        response = Response(render_template("sign_in.html", next=request.form.get("next", ""), username=username,
                                            error=failure.detail), status=status)
        if isinstance(failure, accounts.SignInThrottled):
            response.headers["Retry-After"] = str(failure.retry_after)
        return response
    session.clear()  # a new session on sign-in: nothing from before carries over
    session["user"], session["epoch"] = principal.username, epoch
    csrf_token()
    return redirect(_safe_next(request.form.get("next")))


def sign_out() -> Any:
    """End every session of this account (the cookie alone could be replayed), then forget this one."""
    web().engine.run(EndSessions(me().username), actor=me().username)
    _forget()
    flash("You are signed out.", "info")
    return redirect(url_for("web.sign_in"))


def account() -> Any:
    """Your account: your roles, and changing your own password."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new, repeat = request.form.get("new_password", ""), request.form.get("repeat_password", "")
        if new != repeat:
            errors["repeat_password"] = "The two new passwords differ."
        else:
            try:
                # A wrong current password comes back as a refusal, and its failed attempt is committed.
                change = web().engine.run(ChangeOwnPassword(me().username, current, new), actor=me().username)
            except InvalidValue as error:
                errors["new_password"] = error.detail
            else:
                if change.refusal is not None:
                    errors["current_password"] = change.refusal
                epoch = change.epoch
        if not errors:
            session["epoch"] = epoch  # this session goes on; every other one has ended
            flash("Your password is changed. Your other sessions have ended.", "info")
            return redirect(url_for("web.account"))
    status = 422 if errors else 200
    return render_template("account.html", errors=errors), status


def register(blp: Blueprint) -> None:
    blp.before_request(load_person)
    blp.add_url_rule("/sign-in", "sign_in", sign_in, methods=["GET", "POST"])
    blp.add_url_rule("/sign-out", "sign_out", sign_out, methods=["POST"])
    blp.add_url_rule("/account", "account", account, methods=["GET", "POST"])
    blp.add_app_template_global(csrf_token, "csrf_token")
