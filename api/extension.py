"""The app's Changeflow objects (database, engine) and the authenticated caller of the request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, g

from engine import Database, Engine
from roles.policy import Principal

EXTENSION = "changeflow"


@dataclass
class Changeflow:
    database: Database
    engine: Engine

    def now(self) -> datetime:
        return self.engine.clock.now()


def changeflow() -> Changeflow:
    return current_app.extensions[EXTENSION]


def principal() -> Principal:
    """The caller, as authenticated by ``api.auth`` before the view ran."""
    return g.principal
