"""Command-line administration: ``flask --app app <command>``."""

from __future__ import annotations

import functools
import getpass
import os
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

import migrations
from api.extension import changeflow
from api.people import revoke_assignment
from engine import DeployError, EngineError, RecordMigration
from engine.catalog import deploy_folder
from engine.worker import run_timer_loop
from roles import accounts
from roles.errors import RolesError

ROOT = Path(__file__).resolve().parent.parent
F = TypeVar("F", bound=Callable[..., Any])


def clean_errors(command: F) -> F:
    """Show domain errors as a one-paragraph message, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DeployError as error:
            lines = [error.detail] + [f"  {p.element_id or '-'} (line {p.line or '?'}): {p.message}"
                                      for p in error.problems]
            raise click.ClickException("\n".join(lines)) from error
        except (EngineError, RolesError) as error:
            raise click.ClickException(error.detail) from error

    return wrapper  # type: ignore[return-value]


def acting_user() -> str:
    """Who runs this command, for the audit trail: ``CHANGEFLOW_ACTOR``, else the operating system's user."""
    return os.environ.get("CHANGEFLOW_ACTOR") or getpass.getuser()


users = AppGroup("users", help="Create and list users.")
roles = AppGroup("roles", help="Grant and revoke roles.")
tokens = AppGroup("tokens", help="Issue and revoke API tokens.")


@users.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an admin.")
@click.option("--role", "grants", multiple=True, metavar="ROLE:PRACTICE",
              help="A role to grant, e.g. manager:change or practitioner:* (repeatable).")
@click.option("--display-name", default=None)
@click.option("--email", default=None)
@clean_errors
def create_user(username: str, admin: bool, grants: tuple[str, ...], display_name: str | None,
                email: str | None) -> None:
    """Create a user with roles; the last line printed is the user's new API token, alone."""
    cf = changeflow()
    parsed = [accounts.parse_grant(text) for text in grants] + ([("admin", "*")] if admin else [])
    with cf.database.transaction() as session:
        user = accounts.create_user(session, username, now=cf.now(), display_name=display_name, email=email)
        for role, practice in parsed:
            accounts.grant(session, user, role, practice, granted_by=acting_user(), now=cf.now())
        _row, token = accounts.issue_token(session, user, now=cf.now())
    held = ", ".join(f"{role}:{practice}" for role, practice in parsed) or "no roles"
    click.echo(f"Created {username} ({held}). API token (shown once):", err=True)
    click.echo(token)


@users.command("password")
@click.argument("username")
@clean_errors
def set_password(username: str) -> None:
    """Give a user a new generated password for the web app (printed once, alone); their sessions end."""
    cf = changeflow()
    password = accounts.generate_password()
    with cf.database.transaction() as session:
        accounts.set_password(session, accounts.get_user(session, username), password, now=cf.now())
    click.echo(f"New password for {username} (shown once):", err=True)
    click.echo(password)


@users.command("list")
@clean_errors
def list_users() -> None:
    """List users and their roles."""
    with changeflow().database.snapshot() as session:
        people, _total = accounts.list_users(session, limit=10_000)
        for user in people:
            held = ", ".join(f"{a.role}:{a.practice}" for a in user.assignments) or "-"
            click.echo(f"{user.username}\t{held}")


@roles.command("grant")
@click.argument("username")
@click.argument("grant", metavar="ROLE:PRACTICE")
@clean_errors
def grant_role(username: str, grant: str) -> None:
    """Grant a role, e.g. `roles grant alice manager:change`."""
    cf = changeflow()
    role, practice = accounts.parse_grant(grant)
    with cf.database.transaction() as session:
        accounts.grant(session, accounts.get_user(session, username), role, practice, granted_by=acting_user(),
                       now=cf.now())
    click.echo(f"{username} is {role} of {practice}.")


@roles.command("revoke")
@click.argument("username")
@click.argument("grant", metavar="ROLE:PRACTICE")
@clean_errors
def revoke_role(username: str, grant: str) -> None:
    """Revoke a role, e.g. `roles revoke alice manager:change`."""
    role, practice = accounts.parse_grant(grant)
    with changeflow().database.snapshot() as session:
        assignment = accounts.find_assignment(session, accounts.get_user(session, username), role, practice)
        if assignment is None:
            raise click.ClickException(f"{username} does not hold {role}:{practice}.")
    revoke_assignment(assignment.id, actor=acting_user())
    click.echo(f"{username} is no longer {role} of {practice}.")


@tokens.command("issue")
@click.argument("username")
@click.option("--expires-in", type=click.IntRange(min=1, max=36_500), default=None, metavar="DAYS",
              help="Days until the token stops working (default: never).")
@clean_errors
def issue_token(username: str, expires_in: int | None) -> None:
    """Issue a token; it is printed alone on the last line and never shown again."""
    cf = changeflow()
    now = cf.now()
    with cf.database.transaction() as session:
        user = accounts.get_user(session, username)
        row, token = accounts.issue_token(session, user, now=now,
                                          expires_at=now + timedelta(days=expires_in) if expires_in else None)
    click.echo(f"Token {row.id} for {username} (shown once):", err=True)
    click.echo(token)


@tokens.command("revoke")
@click.argument("token_id", type=int)
@clean_errors
def revoke_token(token_id: int) -> None:
    """Revoke a token by its id."""
    cf = changeflow()
    with cf.database.transaction() as session:
        accounts.revoke_token(session, token_id, now=cf.now())
    click.echo(f"Token {token_id} revoked.")


@click.command("migrate")
@with_appcontext
@clean_errors
def migrate() -> None:
    """Apply the database migrations (the servers do it at start-up too)."""
    before, after = _migrate(changeflow())
    click.echo(f"Database schema at revision {after}" + (" (unchanged)." if before == after else
                                                         f" (was {before or 'empty'})."))


@click.command("deploy")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path), default=ROOT / "bpmn")
@click.option("--comment", default=None, help="Why these diagrams change; kept with each new version.")
@clean_errors
def deploy(path: Path, comment: str | None) -> None:
    """Apply the migrations, then deploy the diagrams under PATH (default: bpmn/).

    Each diagram is reported as deployed (a new version) or unchanged (identical to its latest version).
    """
    cf = changeflow()
    _migrate(cf)
    for outcome in deploy_folder(cf.engine, path, actor=acting_user(), comment=comment):
        state = "deployed" if outcome.created else "unchanged"
        click.echo(f"{outcome.key} ({outcome.practice}): version {outcome.version} {state}")
        for warning in outcome.warnings:
            click.echo(f"  warning: {warning}", err=True)


def _migrate(cf: Any) -> tuple[str | None, str | None]:
    """Bring the schema to the latest revision; a change is recorded with who made it. Returns the revisions
    before and after."""
    url = cf.database.url.render_as_string(hide_password=False)
    before = migrations.current(url)
    migrations.upgrade(url)
    after = migrations.current(url)
    if after != before:
        cf.engine.run(RecordMigration(before, after), actor=acting_user())
    return before, after


@click.command("worker")
@with_appcontext
@click.option("--interval", type=float, default=None,
              help="Seconds between timer passes (default: CHANGEFLOW_TIMER_INTERVAL, else 1).")
@clean_errors
def worker(interval: float | None) -> None:
    """Fire due timers until stopped (Ctrl-C or SIGTERM). Run one or more next to the API servers."""
    if interval is None:
        interval = float(current_app.config["CHANGEFLOW_TIMER_INTERVAL"])  # the setting, else its default
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"Timer worker running (every {interval:g} s); Ctrl-C to stop.", err=True)
    run_timer_loop(changeflow().engine, stop, interval=interval)


def init_app(app: Flask) -> None:
    for command in (users, roles, tokens, migrate, deploy, worker):
        app.cli.add_command(command)
