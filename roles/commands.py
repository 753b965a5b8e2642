"""User, role and token operations as commands: frozen dataclasses, each with one ``execute(ctx)``.

Whoever runs them (the engine's executor, for the API, the web app and the CLI) gives each its own
transaction; a command only reads and writes through ``ctx.session`` and never commits. The rules live in
``roles.accounts``, so every caller gets the same answer for the same request.

Results are plain, frozen views: the transaction is over when the caller reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from roles import accounts
from roles.errors import AlreadyExists, AuthenticationFailed, InvalidValue
from roles.models import RoleAssignment, User

Result_co = TypeVar("Result_co", covariant=True)


class RolesContext(Protocol):
    """What a roles command needs of whoever runs it; the engine's ``CommandContext`` provides it."""

    @property
    def session(self) -> Session: ...

    @property
    def actor(self) -> str: ...

    @property
    def now(self) -> datetime: ...


class RolesCommand(Protocol[Result_co]):
    """A user, role or token operation."""

    def execute(self, ctx: RolesContext) -> Result_co: ...


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserView:
    username: str
    display_name: str | None
    email: str | None
    is_active: bool
    created_at: datetime
    has_password: bool
    grants: tuple[tuple[int, str, str], ...]  # (assignment id, role, practice), in grant order

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(user.username, user.display_name, user.email, user.is_active, user.created_at,
                   user.password_hash is not None, tuple((a.id, a.role, a.practice) for a in user.assignments))


@dataclass(frozen=True)
class AssignmentView:
    id: int
    user: str
    role: str
    practice: str
    granted_by: str
    granted_at: datetime

    @classmethod
    def of(cls, assignment: RoleAssignment, username: str) -> AssignmentView:
        return cls(assignment.id, username, assignment.role, assignment.practice, assignment.granted_by,
                   assignment.granted_at)


@dataclass(frozen=True)
class IssuedToken:
    """A new token: its text appears here only, never again."""

    id: int
    token: str
    expires_at: datetime | None


@dataclass(frozen=True)
class NewUser:
    user: UserView
    token: IssuedToken | None  # when the command asked for one


@dataclass(frozen=True)
class RevokedRole:
    """The assignment taken away, and the (role, practice) pairs its holder still has."""

    assignment: AssignmentView
    remaining: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class PasswordChange:
    """The account's new session epoch, or why the current password was refused (nothing changed then)."""

    epoch: int | None
    refusal: str | None = None


# -- commands -------------------------------------------------------------------------------------


def _issue(ctx: RolesContext, user: User, expires_at: datetime | None) -> IssuedToken:
    row, token = accounts.issue_token(ctx.session, user, now=ctx.now, expires_at=expires_at)
    return IssuedToken(row.id, token, row.expires_at)


@dataclass(frozen=True)
class CreateUser:
    """Create an account; optionally with roles (granted by the actor), a password and a first API token."""

    username: str
    display_name: str | None = None
    email: str | None = None
    grants: tuple[tuple[str, str], ...] = ()
    password: str | None = None
    issue_token: bool = False

    def execute(self, ctx: RolesContext) -> NewUser:
        user = accounts.create_user(ctx.session, self.username, now=ctx.now, display_name=self.display_name,
                                    email=self.email)
        if self.password is not None:
            accounts.set_password(ctx.session, user, self.password, now=ctx.now)
        for role, practice in self.grants:
            accounts.grant(ctx.session, user, role, practice, granted_by=ctx.actor, now=ctx.now)
        token = _issue(ctx, user, None) if self.issue_token else None
        return NewUser(UserView.of(user), token)


@dataclass(frozen=True)
class GrantRole:
    """Give a user a role in a practice (``*``: all); granting a held role returns the existing assignment."""

    username: str
    role: str
    practice: str

    def execute(self, ctx: RolesContext) -> AssignmentView:
        user = accounts.get_user(ctx.session, self.username)
        assignment = accounts.grant(ctx.session, user, self.role, self.practice, granted_by=ctx.actor, now=ctx.now)
        return AssignmentView.of(assignment, user.username)


@dataclass(frozen=True)
class RevokeRole:
    """Take a role assignment away. With ``username``, the assignment must be that user's.

    What the application does when someone loses a role (giving back their tasks) is a separate command run
    in the same transaction; ``remaining`` is what it needs.
    """

    assignment_id: int
    username: str | None = None

    def execute(self, ctx: RolesContext) -> RevokedRole:
        if self.username is not None:
            user = accounts.get_user(ctx.session, self.username)
            if not any(held.id == self.assignment_id for held in user.assignments):
                raise InvalidValue("That role assignment is not this user's.")
        assignment = accounts.revoke(ctx.session, self.assignment_id)
        holder = assignment.user
        view = AssignmentView.of(assignment, holder.username)
        remaining = frozenset((held.role, held.practice) for held in holder.assignments
                              if held.id != self.assignment_id)
        return RevokedRole(view, remaining)


@dataclass(frozen=True)
class IssueToken:
    """A new API token for a user."""

    username: str
    expires_at: datetime | None = None

    def execute(self, ctx: RolesContext) -> IssuedToken:
        return _issue(ctx, accounts.get_user(ctx.session, self.username), self.expires_at)


@dataclass(frozen=True)
class RevokeToken:
    """Revoke a token; it stops working at once. With ``username``, the token must be that user's."""

    token_id: int
    username: str | None = None

    def execute(self, ctx: RolesContext) -> None:
        if self.username is not None:
            user = accounts.get_user(ctx.session, self.username)
            if not any(token.id == self.token_id for token in accounts.tokens_of(ctx.session, user)):
                raise InvalidValue("That token is not this user's.")
        accounts.revoke_token(ctx.session, self.token_id, now=ctx.now)


@dataclass(frozen=True)
class SetPassword:
    """Set a user's password (an admin's reset, or the CLI); their sessions end. Returns the new epoch."""

    username: str
    password: str

    def execute(self, ctx: RolesContext) -> int:
        user = accounts.get_user(ctx.session, self.username)
        accounts.set_password(ctx.session, user, self.password, now=ctx.now)
        return user.session_epoch


@dataclass(frozen=True)
class ChangeOwnPassword:
    """A signed-in person changes their password, giving the current one.

    A wrong current password is not raised but returned as a refusal, so that the transaction commits and
    the failed attempt counts towards the sign-in throttle, as at sign-in.
    """

    username: str
    current: str
    new: str

    def execute(self, ctx: RolesContext) -> PasswordChange:
        try:
            accounts.verify_sign_in(ctx.session, self.username, self.current, now=ctx.now)
        except AuthenticationFailed as error:
            return PasswordChange(None, error.detail)
        user = accounts.get_user(ctx.session, self.username)
        accounts.set_password(ctx.session, user, self.new, now=ctx.now)
        return PasswordChange(user.session_epoch)


@dataclass(frozen=True)
class DisableUser:
    """Disable an account: its sessions end and its tokens are refused. Nobody may disable themselves."""

    username: str

    def execute(self, ctx: RolesContext) -> UserView:
        if self.username == ctx.actor:
            raise AlreadyExists("You cannot disable your own account; ask another admin.")
        user = accounts.get_user(ctx.session, self.username)
        accounts.set_active(ctx.session, user, False)
        return UserView.of(user)


@dataclass(frozen=True)
class EnableUser:
    """Enable a disabled account again."""

    username: str

    def execute(self, ctx: RolesContext) -> UserView:
        user = accounts.get_user(ctx.session, self.username)
        accounts.set_active(ctx.session, user, True)
        return UserView.of(user)


@dataclass(frozen=True)
class EndSessions:
    """Sign a user out everywhere (sign-out ends every session of the account, not just this cookie)."""

    username: str

    def execute(self, ctx: RolesContext) -> None:
        accounts.end_sessions(ctx.session, accounts.get_user(ctx.session, self.username))
