"""The command line for the service catalog: ``flask --app app services list|add|remove``.

Like ``roles.cli``, the group knows no web framework: ``api/cli.py`` gives it a way to run a command in one
transaction as the acting user, and to open a read snapshot. The commands are the API's and the web app's own
(``schedule.commands``), so the same checks apply.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import click
from sqlalchemy.orm import Session

from schedule.commands import CreateService, DeleteService
from schedule.store import ScheduleStore
from schedule.windows import window_from_text


@dataclass(frozen=True)
class ScheduleCliWiring:
    """What the commands need of the application, looked up when a command runs."""

    run: Callable[[Any], Any]  # runs one command in one transaction as the acting user; returns its result
    snapshot: Callable[[], AbstractContextManager[Session]]  # a read-only transaction


def parse_window(text: str) -> dict[str, Any]:
    """A maintenance window written ``sat,sun@02:00-06:00`` (an end at or before the start crosses midnight) as
    the catalog stores it."""
    window = window_from_text(text)
    if window is None:
        raise click.BadParameter(f"'{text}' is not a window; write it as DAYS@HH:MM-HH:MM, for example "
                                 "sun@02:00-06:00 or sat,sun@22:00-02:00 (UTC).", param_hint="--window")
    return window


def make_group(wiring: Callable[[], ScheduleCliWiring]) -> click.Group:
    """The ``services`` group; ``wiring`` is called when a command runs."""
    services = click.Group("services", help="List, add and remove the services of the change schedule's catalog.")

    @services.command("list")
    def list_services() -> None:
        """List the catalog: name, practice, criticality and maintenance windows."""
        with wiring().snapshot() as session:
            rows = list(ScheduleStore(session).services())
            for row in rows:
                windows = ", ".join(f"{','.join(w['days'])}@{w['start']}-{w['end']}" for w in row.maintenance_windows)
                click.echo(f"{row.name}\t{row.practice}\t{row.criticality.value}\t{windows or 'any time'}")

    @services.command("add")
    @click.argument("name")
    @click.option("--practice", default="change", show_default=True, help="The practice that owns the service.")
    @click.option("--criticality", default="medium", show_default=True, help="low, medium, high or critical.")
    @click.option("--window", "windows", multiple=True, metavar="DAYS@HH:MM-HH:MM",
                  help="A weekly maintenance window in UTC, for example sun@02:00-06:00 (repeatable).")
    def add(name: str, practice: str, criticality: str, windows: tuple[str, ...]) -> None:
        """Add the service NAME to the catalog."""
        row = wiring().run(CreateService(name, practice, criticality, [parse_window(w) for w in windows]))
        click.echo(f"The service {row.name} is in the catalog.")

    @services.command("remove")
    @click.argument("name")
    def remove(name: str) -> None:
        """Take the service NAME out of the catalog (changes already raised keep its name)."""
        wiring().run(DeleteService(name))
        click.echo(f"The service {name} left the catalog.")

    return services
