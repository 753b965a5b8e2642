"""Users, their API tokens and their role assignments: every query of the roles package.

Functions take the caller's SQLAlchemy session and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.orm import Session

from roles.errors import AlreadyExists, AuthenticationFailed, InvalidValue, UnknownUser
from roles.models import ApiToken, RoleAssignment, User
from roles.policy import ALL_PRACTICES, PRACTICE_ROLES, Principal, Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
PRACTICE = re.compile(r"^(\*|[a-z][a-z0-9_-]{0,49})$")
TOKEN_PREFIX = "cf_"
# Recording every use would turn every read into a write; once per interval is enough to spot stale tokens.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is enough (no salt or slow hash needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


# -- users ----------------------------------------------------------------------------------------


def create_user(session: Session, username: str, *, now: datetime, display_name: str | None = None,
                email: str | None = None) -> User:
    if not USERNAME.match(username or ""):
        raise InvalidValue("Use 1 to 100 lowercase letters, digits, '.', '_' or '-', starting with a letter "
                           "or digit.", field="username")
    if find_user(session, username) is not None:
        raise AlreadyExists(f"The user '{username}' already exists.", field="username")
    user = User(username=username, display_name=display_name, email=email, is_active=True, created_at=now)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str, *, lock: bool = False) -> User | None:
    """The user, or None; ``lock`` holds the row until the transaction ends (assigning and revoking to the
    same user then take turns)."""
    statement = select(User).where(User.username == username)
    return session.scalars(statement.with_for_update() if lock else statement).first()


def get_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise UnknownUser(f"There is no user '{username}'.")
    return user


def list_users(session: Session, *, offset: int = 0, limit: int = 50) -> tuple[list[User], int]:
    total = session.scalar(select(func.count()).select_from(User)) or 0
    users = session.scalars(select(User).order_by(User.username).offset(offset).limit(limit))
    return list(users), total


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def principal_of(user: User) -> Principal:
    grants = frozenset((a.role, a.practice) for a in user.assignments)
    return Principal(user.username, grants, user.display_name)


# -- tokens ---------------------------------------------------------------------------------------


def issue_token(session: Session, user: User, *, now: datetime,
                expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token for ``user``: the row, and the token text, which is never stored and never shown again."""
    if expires_at is not None:
        expires_at = _utc(expires_at, field="expires_at")
        if expires_at <= now:
            raise InvalidValue("The expiry must be in the future.", field="expires_at")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=hash_token(token), created_at=now, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def _utc(moment: datetime, *, field: str) -> datetime:
    """``moment`` in UTC; a naive time, or one that falls outside the calendar in UTC, is invalid."""
    if moment.tzinfo is None:
        raise InvalidValue("Give the time with a timezone, for example 2027-01-01T00:00:00Z.", field=field)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidValue("The time is out of range.", field=field) from None


def revoke_token(session: Session, token_id: int, *, now: datetime) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise UnknownUser(f"There is no token {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def token_info(row: ApiToken, *, now: datetime) -> dict[str, object]:
    """What may be shown of a token: never the token, only its dates and whether it still works."""
    active = row.revoked_at is None and (row.expires_at is None or row.expires_at > now)
    return {"id": row.id, "created_at": row.created_at, "expires_at": row.expires_at,
            "revoked_at": row.revoked_at, "last_used_at": row.last_used_at, "active": active}


@dataclass(frozen=True)
class Authentication:
    """Who a token stands for, and whether its last use is worth recording."""

    principal: Principal
    token_id: int
    record_use: bool


# One round trip: the token, its user and the user's roles. Authentication runs on every request, so callers
# may run this statement their fastest way (the API prepares it) and hand the rows to ``authentication_of``.
TOKEN_WITH_GRANTS = (
    select(ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.last_used_at, User.username,
           User.display_name, User.is_active, RoleAssignment.role, RoleAssignment.practice)
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(RoleAssignment, RoleAssignment.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def authenticate(session: Session | Connection, token: str, *, now: datetime) -> Authentication:
    """Check a bearer token (read-only; a plain connection will do); ``AuthenticationFailed`` says why not."""
    rows = session.execute(TOKEN_WITH_GRANTS, {"token_hash": hash_token(token)}).all()
    return authentication_of(rows, now=now)


def authentication_of(rows: Sequence[Any], *, now: datetime) -> Authentication:
    """Who the rows of ``TOKEN_WITH_GRANTS`` for a token stand for; ``AuthenticationFailed`` says why not."""
    if not rows:
        raise AuthenticationFailed("The API token is not valid.")
    token_row = rows[0]
    if token_row.revoked_at is not None:
        raise AuthenticationFailed("The API token was revoked.")
    if token_row.expires_at is not None and token_row.expires_at <= now:
        raise AuthenticationFailed("The API token has expired.")
    if not token_row.is_active:
        raise AuthenticationFailed("The user is deactivated.")
    grants = frozenset((row.role, row.practice) for row in rows if row.role is not None)
    stale = token_row.last_used_at is None or now - token_row.last_used_at >= LAST_USED_RESOLUTION
    return Authentication(Principal(token_row.username, grants, token_row.display_name), token_row.id, stale)


def record_token_use(session: Session | Connection, token_id: int, *, now: datetime) -> None:
    """Note when a token was last used (callers do it at most every few minutes, after a success)."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


# -- role assignments -----------------------------------------------------------------------------


def grant(session: Session, user: User, role: str, practice: str, *, granted_by: str,
          now: datetime) -> RoleAssignment:
    """Give ``user`` a role in a practice; granting what they already hold returns the existing assignment."""
    role, practice = _checked_role(role, practice)
    for assignment in user.assignments:
        if (assignment.role, assignment.practice) == (role, practice):
            return assignment
    assignment = RoleAssignment(user_id=user.id, role=role, practice=practice, granted_by=granted_by,
                                granted_at=now)
    session.add(assignment)
    session.flush()
    session.refresh(user, ["assignments"])
    return assignment


def revoke(session: Session, assignment_id: int) -> RoleAssignment:
    assignment = session.get(RoleAssignment, assignment_id)
    if assignment is None:
        raise UnknownUser(f"There is no role assignment {assignment_id}.")
    # Lock the holder, as assigning a task to them does: the assignment then sees the role or the revoke
    # sees the task.
    session.execute(select(User.id).where(User.id == assignment.user_id).with_for_update())
    holder = assignment.user
    session.delete(assignment)
    session.flush()
    # Later reads in the same transaction (a composite command) must not see the role in a stale collection.
    session.expire(holder, ["assignments"])
    return assignment


def find_assignment(session: Session, user: User, role: str, practice: str) -> RoleAssignment | None:
    statement = select(RoleAssignment).where(RoleAssignment.user_id == user.id, RoleAssignment.role == role,
                                             RoleAssignment.practice == practice)
    return session.scalars(statement).first()


def list_assignments(session: Session, *, username: str | None = None, role: str | None = None,
                     practice: str | None = None, offset: int = 0,
                     limit: int | None = None) -> tuple[list[RoleAssignment], int]:
    """Assignments by username (then grant order), filtered; a page of them and the total that match."""
    statement = select(RoleAssignment).join(User)
    if username:
        statement = statement.where(User.username == username)
    if role:
        statement = statement.where(RoleAssignment.role == role)
    if practice:
        statement = statement.where(RoleAssignment.practice == practice)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    page = statement.order_by(User.username, RoleAssignment.id).offset(offset).limit(limit)
    return list(session.scalars(page)), total


def parse_grant(text: str) -> tuple[str, str]:
    """``manager:change`` -> ("manager", "change"); ``admin`` -> ("admin", "*")."""
    role, _, practice = text.partition(":")
    return _checked_role(role, practice or ALL_PRACTICES)


def _checked_role(role: str, practice: str) -> tuple[str, str]:
    try:
        checked = Role(role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidValue(f"'{role}' is not a role; use one of: {names}.", field="role") from None
    if checked is Role.ADMIN:
        if practice not in (ALL_PRACTICES, ""):
            raise InvalidValue("admin is a global role; its practice is '*'.", field="practice")
        return checked.value, ALL_PRACTICES
    if checked not in PRACTICE_ROLES or not PRACTICE.match(practice or ""):
        raise InvalidValue(f"'{practice}' is not a practice; use a lowercase word such as 'change', or '*'.",
                           field="practice")
    return checked.value, practice


# -- passwords and sign-in (the web app) ----------------------------------------------------------

# argon2id with the library's defaults (RFC 9106's low-memory profile); ``check_needs_rehash`` upgrades
# stored hashes when those defaults change.
_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a miss takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("changeflow: no such user")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1000
FREE_FAILURES = 4  # failures allowed before sign-ins are throttled
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
SIGN_IN_REFUSED = "The username or password is wrong."


def check_password_strength(password: str, *, username: str) -> None:
    """Refuse a password that is too short, too long, or the username itself."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidValue(f"Use at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidValue(f"Use at most {MAX_PASSWORD_LENGTH} characters.", field="password")
    if password.strip().lower() == username.lower():
        raise InvalidValue("The password may not be the username.", field="password")


def set_password(session: Session, user: User, password: str, *, now: datetime) -> None:
    """Store a new password (hashed) and end the user's other sessions; clears any sign-in throttle."""
    check_password_strength(password, username=user.username)
    user.password_hash = _hasher.hash(password)
    user.password_changed_at = now
    user.session_epoch = (user.session_epoch or 0) + 1
    user.failed_sign_ins = 0
    user.sign_in_blocked_until = None


def generate_password() -> str:
    """A random password for a new or reset account (about 96 bits), easy to type."""
    return secrets.token_urlsafe(12)


class SignInThrottled(AuthenticationFailed):
    """Too many failed sign-ins: wait a moment and try again."""

    def __init__(self, retry_after: timedelta) -> None:
        seconds = max(1, int(retry_after.total_seconds() + 0.999))
        super().__init__(f"Too many failed sign-ins for this account. Try again in {seconds} seconds.")
        self.retry_after = seconds


def verify_sign_in(session: Session, username: str, password: str, *, now: datetime) -> Principal:
    """Check a username and password; record the outcome (failures throttle the account).

    Raises ``AuthenticationFailed`` with one message for an unknown user, a wrong password or an account
    without a password, so that a stranger learns nothing about which accounts exist; ``SignInThrottled``
    while the account is throttled (the password is then not even checked). The caller commits in every
    case: a failure must be counted.
    """
    user = find_user(session, username) if USERNAME.match(username or "") else None
    if user is None or user.password_hash is None:
        _verify_quietly(_DUMMY_HASH, password)
        raise AuthenticationFailed(SIGN_IN_REFUSED)
    if user.sign_in_blocked_until is not None and user.sign_in_blocked_until > now:
        raise SignInThrottled(user.sign_in_blocked_until - now)
    if not _verify_quietly(user.password_hash, password):
        user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
        excess = user.failed_sign_ins - FREE_FAILURES
        if excess > 0:
            user.sign_in_blocked_until = now + min(MAX_DELAY, FIRST_DELAY * 2 ** (excess - 1))
        raise AuthenticationFailed(SIGN_IN_REFUSED)
    if not user.is_active:
        raise AuthenticationFailed("This account is disabled. Ask an administrator.")
    user.failed_sign_ins, user.sign_in_blocked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return principal_of(user)


def _verify_quietly(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# One round trip, as for tokens: a session is checked on every page.
_USER_WITH_GRANTS = (
    select(User.username, User.display_name, User.is_active, User.session_epoch, RoleAssignment.role,
           RoleAssignment.practice)
    .outerjoin(RoleAssignment, RoleAssignment.user_id == User.id)
    .where(User.username == bindparam("username"))
)


def session_principal(connection: Session | Connection, username: str, epoch: int) -> Principal:
    """The principal of a signed-in session; refused at once when the user was disabled or their
    sessions were ended (a password change bumps the epoch)."""
    rows = connection.execute(_USER_WITH_GRANTS, {"username": username}).all()
    if not rows:
        raise AuthenticationFailed("Your account no longer exists.")
    first = rows[0]
    if not first.is_active:
        raise AuthenticationFailed("This account is disabled. Ask an administrator.")
    if first.session_epoch != epoch:
        raise AuthenticationFailed("Your session has ended (your password was changed). Sign in again.")
    grants = frozenset((row.role, row.practice) for row in rows if row.role is not None)
    return Principal(first.username, grants, first.display_name)


def set_active(session: Session, user: User, active: bool) -> None:
    """Enable or disable an account. Disabling ends its sessions; its tokens are refused while disabled."""
    if user.is_active and not active:
        user.session_epoch = (user.session_epoch or 0) + 1
    user.is_active = active


def end_sessions(session: Session, user: User) -> None:
    """Sign the user out everywhere (every session cookie issued so far stops working)."""
    user.session_epoch = (user.session_epoch or 0) + 1


def holders(session: Session, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """For each (role, practice), the active users who hold it there (or in every practice), by name."""
    result: dict[tuple[str, str], list[str]] = {pair: [] for pair in pairs}
    if not pairs:
        return result
    roles = {role for role, _practice in pairs}
    statement = (select(User.username, RoleAssignment.role, RoleAssignment.practice)
                 .join(RoleAssignment, RoleAssignment.user_id == User.id)
                 .where(User.is_active.is_(True), RoleAssignment.role.in_(roles))
                 .order_by(User.username))
    for username, role, practice in session.execute(statement):
        for wanted_role, wanted_practice in pairs:
            if role == wanted_role and practice in (wanted_practice, ALL_PRACTICES) \
                    and username not in result[(wanted_role, wanted_practice)]:
                result[(wanted_role, wanted_practice)].append(username)
    return result
