"""What the web views share: the database and engine, and the signed-in person."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, g

from engine import Database, Engine
from forms import FormDefinition
from roles.policy import Principal

WEB_EXTENSION = "changeflow.web"


@dataclass
class WebContext:
    database: Database
    engine: Engine
    forms: Mapping[str, FormDefinition] = field(default_factory=dict)  # the shipped forms, for the studio

    def now(self) -> datetime:
        return self.engine.clock.now()


def web() -> WebContext:
    return current_app.extensions[WEB_EXTENSION]


def me() -> Principal:
    """The signed-in person (``auth.load_person`` found them before the view ran)."""
    return g.web_principal
