"""The command line for users, roles and API tokens: ``users``, ``roles`` and ``tokens``.

The groups know no web framework: whoever adds them to a command line (``api/cli.py``, for ``flask``) gives
``make_groups`` a way to reach the application when a command runs (``CliWiring``): running a command in
one transaction as the acting user, opening a read snapshot, and the command that takes a role away (the
application also gives back the tasks its holder may no longer work on).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from roles import accounts
from roles.commands import CreateUser, GrantRole, IssueToken, RevokeRole, RevokeToken, SetPassword
from roles.errors import RolesError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CliWiring:
    """What the commands need of the application, looked up when a command runs."""

    run: Callable[[Any], Any]  # runs one command in one transaction as the acting user; returns its result
    snapshot: Callable[[], AbstractContextManager[Session]]  # a read-only transaction
    now: Callable[[], Any]  # the application's clock
    revoke_role: Callable[[int, str], Any] = RevokeRole  # the command that takes a user's assignment away


def _clean_errors(command: F) -> F:
    """Show a refusal as a one-paragraph message, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RolesError as error:
            raise click.ClickException(error.detail) from error

    return wrapper  # type: ignore[return-value]


def make_groups(wiring: Callable[[], CliWiring]) -> tuple[click.Group, click.Group, click.Group]:
    """The ``users``, ``roles`` and ``tokens`` groups; ``wiring`` is called when a command runs."""
    users = click.Group("users", help="Create and list users.")
    roles = click.Group("roles", help="Grant and revoke roles.")
    tokens = click.Group("tokens", help="Issue and revoke API tokens.")

    @users.command("create")
    @click.argument("username")
    @click.option("--admin", is_flag=True, help="Make the user an admin.")
    @click.option("--role", "grants", multiple=True, metavar="ROLE:PRACTICE",
                  help="A role to grant, e.g. manager:change or practitioner:* (repeatable).")
    @click.option("--display-name", default=None)
    @click.option("--email", default=None)
    @_clean_errors
    def create_user(username: str, admin: bool, grants: tuple[str, ...], display_name: str | None,
                    email: str | None) -> None:
        """Create a user with roles; the last line printed is the user's new API token, alone."""
        parsed = [accounts.parse_grant(text) for text in grants] + ([("admin", "*")] if admin else [])
        created = wiring().run(CreateUser(username, display_name=display_name, email=email, grants=tuple(parsed),
                                          issue_token=True))
        held = ", ".join(f"{role}:{practice}" for role, practice in parsed) or "no roles"
        click.echo(f"Created {username} ({held}). API token (shown once):", err=True)
        click.echo(created.token.token)

    @users.command("password")
    @click.argument("username")
    @_clean_errors
    def set_password(username: str) -> None:
        """Give a user a new generated password for the web app (printed once, alone); their sessions end."""
        password = accounts.generate_password()
        wiring().run(SetPassword(username, password))
        click.echo(f"New password for {username} (shown once):", err=True)
        click.echo(password)

    @users.command("list")
    @_clean_errors
    def list_users() -> None:
        """List users and their roles."""
        with wiring().snapshot() as session:
            people, _total = accounts.list_users(session, limit=10_000)
            for user in people:
                held = ", ".join(f"{a.role}:{a.practice}" for a in user.assignments) or "-"
                click.echo(f"{user.username}\t{held}")

    @roles.command("grant")
    @click.argument("username")
    @click.argument("grant", metavar="ROLE:PRACTICE")
    @_clean_errors
    def grant_role(username: str, grant: str) -> None:
        """Grant a role, e.g. `roles grant alice manager:change`."""
        role, practice = accounts.parse_grant(grant)
        wiring().run(GrantRole(username, role, practice))
        click.echo(f"{username} is {role} of {practice}.")

    @roles.command("revoke")
    @click.argument("username")
    @click.argument("grant", metavar="ROLE:PRACTICE")
    @_clean_errors
    def revoke_role(username: str, grant: str) -> None:
        """Revoke a role, e.g. `roles revoke alice manager:change`."""
        role, practice = accounts.parse_grant(grant)
        app = wiring()
        with app.snapshot() as session:
            assignment = accounts.find_assignment(session, accounts.get_user(session, username), role, practice)
            if assignment is None:
                raise click.ClickException(f"{username} does not hold {role}:{practice}.")
            assignment_id = assignment.id
        # The command checks again that the assignment is still this user's, in its own transaction.
        app.run(app.revoke_role(assignment_id, username))
        click.echo(f"{username} is no longer {role} of {practice}.")

    @tokens.command("issue")
    @click.argument("username")
    @click.option("--expires-in", type=click.IntRange(min=1, max=36_500), default=None, metavar="DAYS",
                  help="Days until the token stops working (default: never).")
    @_clean_errors
    def issue_token(username: str, expires_in: int | None) -> None:
        """Issue a token; it is printed alone on the last line and never shown again."""
        app = wiring()
        expires_at = app.now() + timedelta(days=expires_in) if expires_in else None
        issued = app.run(IssueToken(username, expires_at=expires_at))
        click.echo(f"Token {issued.id} for {username} (shown once):", err=True)
        click.echo(issued.token)

    @tokens.command("revoke")
    @click.argument("token_id", type=int)
    @_clean_errors
    def revoke_token(token_id: int) -> None:
        """Revoke a token by its id."""
        wiring().run(RevokeToken(token_id))
        click.echo(f"Token {token_id} revoked.")

    return users, roles, tokens
