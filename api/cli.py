"""Command-line administration: ``flask --app app <command>``. The users, roles and tokens groups live in
``roles.cli``; this module wires them to the application."""

from __future__ import annotations

import functools
import getpass
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

import migrations
from api.extension import changeflow
from engine import DeployError, EngineError, RecordMigration
from engine.catalog import deploy_folder
from engine.worker import run_timer_loop
from itsm.accounts import RevokeRoleAndRelease
from notifications import EXTENSION as NOTIFICATIONS
from notifications import Notifier
from roles.cli import CliWiring, make_groups
from roles.errors import RolesError
from schedule.cli import ScheduleCliWiring
from schedule.cli import make_group as make_services_group

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


def _wiring() -> CliWiring:
    """The application as the users, roles and tokens commands see it (inside the Flask app context)."""
    cf = changeflow()

    def run(command: Any) -> Any:
        try:
            return cf.engine.run(command, actor=acting_user())
        except EngineError as error:  # a lost race: Conflict
            raise click.ClickException(error.detail) from error

    return CliWiring(run=run, snapshot=cf.database.snapshot, now=cf.now, revoke_role=RevokeRoleAndRelease)


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
    """Fire due timers and deliver notifications until stopped (Ctrl-C or SIGTERM). Run one or more next to the
    API servers: they share the work safely."""
    if interval is None:
        interval = float(current_app.config["CHANGEFLOW_TIMER_INTERVAL"])  # the setting, else its default
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"Timer worker running (every {interval:g} s); Ctrl-C to stop.", err=True)
    notifier: Notifier = current_app.extensions[NOTIFICATIONS]
    # Notifications in their own thread: a slow mail server or webhook never holds up the timers.
    delivering = threading.Thread(target=notifier.run_loop, args=(stop,), name="changeflow-notifications")
    delivering.start()
    run_timer_loop(changeflow().engine, stop, interval=interval)
    delivering.join()


def _schedule_wiring() -> ScheduleCliWiring:
    """The application as the ``services`` commands see it: the same runner as the roles commands."""
    wiring = _wiring()
    return ScheduleCliWiring(run=wiring.run, snapshot=wiring.snapshot)


def init_app(app: Flask) -> None:
    for group in (*make_groups(_wiring), make_services_group(_schedule_wiring)):
        for command in group.commands.values():
            command.callback = with_appcontext(command.callback)  # type: ignore[arg-type]
        app.cli.add_command(group)
    for command in (migrate, deploy, worker):
        app.cli.add_command(command)
