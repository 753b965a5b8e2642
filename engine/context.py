"""What a command sees while it runs: its transaction's store, the time, the actor, the policy hook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.scripting import ScriptEngine
from engine.services import ServiceContext
from engine.store import Store
from engine.views import Facts

if TYPE_CHECKING:
    from engine.executor import Engine

SYSTEM_ACTOR = "system"  # the actor of what no person did: timers, the worker, start-up deploys

Authorizer = Callable[[Facts], None]
"""Called with the facts of the resource a command acts on; raises to refuse (the API supplies it)."""


def allow_all(_facts: Facts) -> None:
    """The authorizer for system actors (the timer worker) and engine-level tests."""


@dataclass
class CommandContext:
    engine: Engine
    store: Store
    actor: str
    now: datetime
    authorize: Authorizer = allow_all
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # Messages services posted (name, business key, payload), delivered by ``Engine.run`` after the command.
    messages: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def session(self) -> Session:
        """The transaction's session, for packages that own their own tables and queries, like ``roles``
        (its commands take any context with a ``session``, an ``actor`` and a ``now``). Engine commands go
        through ``store``."""
        return self.store.session

    def service_context(self, business_key: str, practice: str) -> ServiceContext:
        """What a service of one instance sees inside this command: the rights of that instance (its practice,
        and the links the service registry declares from it); the messages it sends are delivered after the
        command, in its transaction."""
        return ServiceContext(self.store, business_key=business_key, practice=practice, actor=self.actor,
                              now=self.now, links=self.engine.services.links,
                              post=lambda *message: self.messages.append(message))

    def script_engine(self, business_key: str, practice: str) -> ScriptEngine:
        """A script engine for one instance, whose service tasks run inside this command with the rights of
        that instance."""
        return ScriptEngine(self.engine.sandbox, self.engine.services, self.service_context(business_key, practice),
                            now=self.now)
