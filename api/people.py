"""The caller, users, API tokens, roles and role assignments."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import PAGINATION_HEADERS, page_request, paged, problems
from api.schemas import (
    MeSchema,
    PageArgs,
    RoleAssignmentCreateSchema,
    RoleAssignmentQuerySchema,
    RoleAssignmentSchema,
    RoleSchema,
    TokenInfoSchema,
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserSchema,
)
from engine import Listing
from itsm.accounts import RevokeRoleAndRelease
from roles import accounts
from roles import commands as account_commands
from roles.commands import (
    AssignmentView,
    CreateUser,
    GrantRole,
    IssueToken,
    RevokeToken,
    UserView,
)
from roles.models import RoleAssignment, User
from roles.policy import Action, Role, UserFacts, check

blp = protect(Blueprint("people", __name__, url_prefix="/api",
                        description="Who you are; users, tokens and roles (admins)."))


def _admin() -> str:
    check(principal(), Action.ADMINISTER)
    return principal().username


def _user_body(user: User) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "email": user.email,
            "is_active": user.is_active, "created_at": user.created_at,
            "roles": [{"role": a.role, "practice": a.practice} for a in user.assignments]}


def _view_body(user: UserView) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "email": user.email,
            "is_active": user.is_active, "created_at": user.created_at,
            "roles": [{"role": role, "practice": practice} for _id, role, practice in user.grants]}


def _assignment_body(assignment: RoleAssignment | AssignmentView) -> dict[str, Any]:
    if isinstance(assignment, AssignmentView):
        return {"id": assignment.id, "user": assignment.user, "role": assignment.role,
                "practice": assignment.practice, "granted_by": assignment.granted_by,
                "granted_at": assignment.granted_at}
    return {"id": assignment.id, "user": assignment.user.username, "role": assignment.role,
            "practice": assignment.practice, "granted_by": assignment.granted_by,
            "granted_at": assignment.granted_at}


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @problems(blp)
    def get(self) -> Any:
        """The caller and the roles they hold."""
        me = principal()
        return {"username": me.username, "display_name": me.display_name, "is_admin": me.is_admin,
                "roles": [{"role": role, "practice": practice} for role, practice in sorted(me.grants)]}


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, UserSchema(many=True), headers=PAGINATION_HEADERS)
    @problems(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """All users with their roles (admins)."""
        _admin()
        page = page_request(args)
        with changeflow().database.snapshot() as session:
            users, total = accounts.list_users(session, offset=page.offset, limit=page.per_page)
            return paged(Listing([_user_body(user) for user in users], total), page)

    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @problems(blp, 403, 409, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a user (admins). Give them roles with POST /api/role-assignments and a token with
        POST /api/users/{username}/tokens."""
        created = _run(CreateUser(body["username"], display_name=body["display_name"], email=body["email"]))
        return _view_body(created.user)


@blp.route("/users/<string:username>")
class UserResource(MethodView):
    @blp.response(200, UserSchema)
    @problems(blp, 403, 404)
    def get(self, username: str) -> Any:
        """One user with their roles (admins, or the user themselves)."""
        check(principal(), Action.VIEW_USER, UserFacts(username))
        with changeflow().database.snapshot() as session:
            return _user_body(accounts.get_user(session, username))


@blp.route("/users/<string:username>/disable")
class DisableUser(MethodView):
    @blp.response(200, UserSchema)
    @problems(blp, 403, 404, 409)
    def post(self, username: str) -> Any:
        """Disable an account (admins): its sessions and API tokens are refused at once."""
        return _set_active(username, False)


@blp.route("/users/<string:username>/enable")
class EnableUser(MethodView):
    @blp.response(200, UserSchema)
    @problems(blp, 403, 404)
    def post(self, username: str) -> Any:
        """Enable a disabled account again (admins). Its tokens work again unless revoked or expired."""
        return _set_active(username, True)


def _set_active(username: str, active: bool) -> dict[str, Any]:
    return _view_body(_run(account_commands.EnableUser(username) if active
                          else account_commands.DisableUser(username)))


def _run(command: Any) -> Any:
    """Run a user, role or token command as the calling admin, in one transaction of the engine."""
    return changeflow().engine.run(command, actor=_admin())


@blp.route("/users/<string:username>/tokens")
class Tokens(MethodView):
    @blp.response(200, TokenInfoSchema(many=True))
    @problems(blp, 403, 404)
    def get(self, username: str) -> Any:
        """A user's API tokens, oldest first, without the tokens themselves (admins)."""
        _admin()
        cf = changeflow()
        with cf.database.snapshot() as session:
            user = accounts.get_user(session, username)
            return [accounts.token_info(row, now=cf.now()) for row in accounts.tokens_of(session, user)]

    @blp.arguments(TokenRequestSchema, required=False)
    @blp.response(201, TokenSchema)
    @problems(blp, 403, 404, 422)
    def post(self, body: dict[str, Any], username: str) -> Any:
        """Issue an API token for a user (admins). The token appears in this response only; store it safely."""
        issued = _run(IssueToken(username, expires_at=(body or {}).get("expires_at")))
        return {"id": issued.id, "token": issued.token, "expires_at": issued.expires_at}


@blp.route("/tokens/<id:token_id>")
class Token(MethodView):
    @blp.response(204)
    @problems(blp, 403, 404)
    def delete(self, token_id: int) -> None:
        """Revoke a token (admins). It stops working at once."""
        _run(RevokeToken(token_id))


@blp.route("/roles")
class Roles(MethodView):
    @blp.response(200, RoleSchema(many=True))
    @problems(blp)
    def get(self) -> Any:
        """The roles there are and what each may do."""
        return [{"name": role.value, "description": role.description, "per_practice": role is not Role.ADMIN}
                for role in Role]


@blp.route("/role-assignments")
class RoleAssignments(MethodView):
    @blp.arguments(RoleAssignmentQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, RoleAssignmentSchema(many=True), headers=PAGINATION_HEADERS)
    @problems(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Who holds which role in which practice (anyone signed in may read it)."""
        page = page_request(args)
        with changeflow().database.snapshot() as session:
            assignments, total = accounts.list_assignments(
                session, username=args.get("user"), role=args.get("role"), practice=args.get("practice"),
                offset=page.offset, limit=page.per_page)
            return paged(Listing([_assignment_body(row) for row in assignments], total), page)

    @blp.arguments(RoleAssignmentCreateSchema)
    @blp.response(201, RoleAssignmentSchema)
    @problems(blp, 403, 404, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Give a user a role in a practice, or '*' for all (admins). Granting a held role changes nothing."""
        return _assignment_body(_run(GrantRole(body["user"], body["role"], body["practice"])))


@blp.route("/role-assignments/<id:assignment_id>")
class RoleAssignmentResource(MethodView):
    @blp.response(204)
    @problems(blp, 403, 404)
    def delete(self, assignment_id: int) -> None:
        """Take a role away (admins). Tasks the user holds and may no longer work on go back to their queue."""
        _run(RevokeRoleAndRelease(assignment_id))
