"""Admin pages: users (create, disable, reset password), role grants per practice, API tokens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine import PageRequest
from itsm.accounts import RevokeRoleAndRelease
from roles import accounts
from roles.commands import (
    CreateUser,
    DisableUser,
    EnableUser,
    GrantRole,
    IssueToken,
    RevokeToken,
    SetPassword,
)
from roles.errors import AlreadyExists, InvalidValue
from roles.policy import ALL_PRACTICES, Action, Role, check
from web.context import me, web
from web.pages import PER_PAGE, Pager, _page_number


def _admin() -> str:
    check(me(), Action.ADMINISTER)
    return me().username


def users() -> Any:
    """All users, and the form to create one."""
    _admin()
    page = PageRequest(_page_number(), PER_PAGE)
    with web().database.snapshot() as db:
        rows, total = accounts.list_users(db, offset=page.offset, limit=page.per_page)
        people = [_person(user) for user in rows]
    return render_template("admin/users.html", people=people, pager=Pager(page.page, PER_PAGE, total),
                           roles=[r.value for r in Role], errors={}, form={})


def _person(user: Any) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "email": user.email,
            "is_active": user.is_active, "has_password": user.password_hash is not None,
            "grants": [(a.id, a.role, a.practice) for a in user.assignments]}


def create_user() -> Any:
    """Create an account with a generated password (shown once) and, optionally, a first role."""
    admin = _admin()
    form = request.form
    username = form.get("username", "").strip().lower()
    cf = web()
    password = accounts.generate_password()
    grants = ((form["role"], form.get("practice") or ALL_PRACTICES),) if form.get("role") else ()
    try:
        cf.engine.run(CreateUser(username, display_name=form.get("display_name") or None,
                                 email=form.get("email") or None, grants=grants, password=password), actor=admin)
    except (InvalidValue, AlreadyExists) as error:
        with cf.database.snapshot() as db:
            rows, total = accounts.list_users(db, offset=0, limit=PER_PAGE)
            people = [_person(user) for user in rows]
        return render_template("admin/users.html", people=people, pager=Pager(1, PER_PAGE, total),
                               roles=[r.value for r in Role], errors={error.field or "username": error.detail},
                               form=form), 422
    flash(f"Created {username}. Their password, shown only now: {password}", "secret")
    return redirect(url_for("web.admin_user", username=username))


def user(username: str) -> Any:
    """One account: roles, tokens, disable or enable, reset the password."""
    _admin()
    cf = web()
    with cf.database.snapshot() as db:
        row = accounts.get_user(db, username)
        person = _person(row)
        tokens = [accounts.token_info(token, now=cf.now()) for token in accounts.tokens_of(db, row)]
    return render_template("admin/user.html", person=person, tokens=tokens, roles=[r.value for r in Role])


def _change(username: str, command: Any, message: str) -> Any:
    """Run a user, role or token command as the admin (one transaction), then show the user's page."""
    result = web().engine.run(command, actor=_admin())
    flash(message.format(result=result), "secret" if "shown only now" in message else "info")
    return redirect(url_for("web.admin_user", username=username))


def disable(username: str) -> Any:
    return _change(username, DisableUser(username),
                   f"{username} is disabled: their sessions and tokens are refused from now on.")


def enable(username: str) -> Any:
    return _change(username, EnableUser(username), f"{username} is enabled again.")


def reset_password(username: str) -> Any:
    """Set the password the admin typed, or generate one; either way the user's sessions end."""
    typed = request.form.get("password", "")
    if typed:
        return _change(username, SetPassword(username, typed),
                       f"{username}'s password is set. Their sessions have ended.")
    password = accounts.generate_password()
    return _change(username, SetPassword(username, password),
                   f"{username}'s new password, shown only now: {password}")


def grant(username: str) -> Any:
    form = request.form
    return _change(username, GrantRole(username, form.get("role", ""), form.get("practice") or ALL_PRACTICES),
                   f"{username} now holds {form.get('role')} in {form.get('practice') or ALL_PRACTICES}.")


def revoke_grant(username: str, assignment_id: int) -> Any:
    """Take a role away; the tasks the user may no longer work on go back to their queue (as in the API)."""
    return _change(username, RevokeRoleAndRelease(assignment_id, username), f"The role is taken from {username}.")


def issue_token(username: str) -> Any:
    return _change(username, IssueToken(username),
                   f"A new API token for {username}, shown only now: {{result.token}}")


def revoke_token(username: str, token_id: int) -> Any:
    return _change(username, RevokeToken(token_id, username), f"Token {token_id} of {username} is revoked.")


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/admin/users", "admin_users", users)
    blp.add_url_rule("/admin/users", "admin_create_user", create_user, methods=["POST"])
    blp.add_url_rule("/admin/users/<string:username>", "admin_user", user)
    blp.add_url_rule("/admin/users/<string:username>/disable", "admin_disable", disable, methods=["POST"])
    blp.add_url_rule("/admin/users/<string:username>/enable", "admin_enable", enable, methods=["POST"])
    blp.add_url_rule("/admin/users/<string:username>/password", "admin_password", reset_password, methods=["POST"])
    blp.add_url_rule("/admin/users/<string:username>/roles", "admin_grant", grant, methods=["POST"])
    blp.add_url_rule("/admin/users/<string:username>/roles/<int:assignment_id>/revoke", "admin_revoke_grant",
                     revoke_grant, methods=["POST"])
    blp.add_url_rule("/admin/users/<string:username>/tokens", "admin_issue_token", issue_token, methods=["POST"])
    blp.add_url_rule("/admin/users/<string:username>/tokens/<int:token_id>/revoke", "admin_revoke_token",
                     revoke_token, methods=["POST"])
