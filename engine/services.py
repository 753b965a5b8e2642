"""Service tasks as code: BPMN service tasks call Python functions registered here.

A service function takes a ``ServiceContext`` and keyword parameters (the service task's parameter
values) and returns JSON-like data, which the engine stores in the task's result variable. It runs
inside the command's transaction, so what it reads and records commits or rolls back with the command.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.states import EventType, InstanceStatus
from engine.store import Store

ServiceFunction = Callable[..., Any]
MessagePoster = Callable[[str, str, dict[str, Any]], None]
"""Queues a message (name, business key of the receiver, payload) for delivery in the command's transaction."""


class ServiceError(Exception):
    """A service task could not do its work; the message says why."""


@dataclass(frozen=True)
class InstanceSnapshot:
    """What a service may read about another instance."""

    business_key: str
    process_key: str
    practice: str
    status: InstanceStatus
    data: dict[str, Any]
    started_by: str | None = None  # the requester


@dataclass(frozen=True)
class Submission:
    """One completion of a user task: who, when, and the form data."""

    task_id: str
    completed_by: str
    completed_at: datetime
    data: dict[str, Any]


class ServiceContext:
    """The calling instance and a narrow window on the store, for the duration of one command.

    A service acts with the rights of the instance that calls it, not of the person whose command ran
    it: it sees and writes to instances of the caller's own practice, and of the practices the registry
    links the caller's practice to (a release carries changes: ``release -> change``). Any other instance
    is, to the service, not there.
    """

    def __init__(self, store: Store, *, business_key: str, practice: str, actor: str, now: datetime,
                 links: frozenset[tuple[str, str]] = frozenset(), post: MessagePoster | None = None) -> None:
        self._store = store
        self.business_key = business_key
        self.practice = practice
        self.actor = actor
        self.now = now
        self._links = links
        self._post = post

    @property
    def session(self) -> Session:
        """The command's session, for services of packages that own their own tables (the schedule, the CAB:
        their queries live in those packages); the engine's tables stay behind the methods of this class."""
        return self._store.session

    def send_message(self, business_key: str, name: str, payload: dict[str, Any]) -> None:
        """Deliver the message ``name`` to the instance ``business_key`` once the calling instance is saved, in
        this command's transaction. An instance that does not wait for it (or that the caller may not reach)
        is skipped: a message is a nudge, and the receiver reads the state it needs when it gets there."""
        row = self._store.instance_by_business_key(business_key)
        if row is None or not self.reaches(row.practice) or self._post is None:
            return
        self._post(name, business_key, dict(payload))

    def reaches(self, practice: str) -> bool:
        """Whether the calling instance may read and write instances of ``practice``."""
        return practice == self.practice or (self.practice, practice) in self._links

    def savepoint(self) -> AbstractContextManager[Any]:
        """A savepoint around one service call: leaving it by an exception undoes what the service wrote."""
        return self._store.savepoint()

    def find_instance(self, business_key: str) -> InstanceSnapshot | None:
        """Another instance by its business key, or None when there is none the caller may reach."""
        row = self._store.instance_by_business_key(business_key)
        if row is None or not self.reaches(row.practice):
            return None
        return InstanceSnapshot(row.business_key, row.process_key, row.practice, row.status, dict(row.data),
                                row.started_by)

    def submissions(self, element_id: str) -> list[Submission]:
        """What people submitted on the user task ``element_id`` of the calling instance, one per completed
        task (each instance of a multi-instance task), in order of completion."""
        row = self._store.instance_by_business_key(self.business_key)
        if row is None:
            return []
        return [Submission(task_id, user, at, data)
                for task_id, user, at, data in self._store.submissions(row.id, element_id)]

    def record_event(self, business_key: str, type: EventType, data: dict[str, Any]) -> None:
        """Append an event to another instance's audit trail, in this command's transaction."""
        row = self._store.instance_by_business_key(business_key)
        if row is None or not self.reaches(row.practice):
            raise ServiceError(f"there is no instance {business_key} that {self.business_key} may write to")
        self._store.add_event(at=self.now, actor=self.actor, type=type, instance_id=row.id,
                              data={"source": self.business_key, **data})


class ServiceRegistry:
    """Service functions by the operator name diagrams use (``spiffworkflow:serviceTaskOperator id``)."""

    def __init__(self) -> None:
        self._functions: dict[str, ServiceFunction] = {}
        self.links: frozenset[tuple[str, str]] = frozenset()

    def link(self, source: str, target: str) -> None:
        """Let services called by instances of practice ``source`` read and write those of ``target``."""
        self.links = self.links | {(source, target)}

    def register(self, name: str | None = None) -> Callable[[ServiceFunction], ServiceFunction]:
        """Decorator: ``@services.register()`` registers a function under its own name."""

        def decorate(function: ServiceFunction) -> ServiceFunction:
            self._functions[name or function.__name__] = function
            return function

        return decorate

    def get(self, name: str) -> ServiceFunction | None:
        return self._functions.get(name)

    def names(self) -> list[str]:
        return sorted(self._functions)

    def parameter_problems(self, name: str, parameters: Iterable[str]) -> list[str]:
        """Why a service task's parameters do not fit the function, for deploy-time checks."""
        signature = inspect.signature(self._functions[name])
        accepted = [p for p in list(signature.parameters.values())[1:]
                    if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        given = set(parameters)
        problems = [f"The service '{name}' has no parameter '{extra}' (it takes: "
                    f"{', '.join(p.name for p in accepted) or 'nothing'})."
                    for extra in sorted(given - {p.name for p in accepted})]
        problems += [f"The service '{name}' needs the parameter '{p.name}'."
                     for p in accepted if p.default is inspect.Parameter.empty and p.name not in given]
        return problems

    def call(self, name: str, context: ServiceContext, params: dict[str, Any]) -> Any:
        function = self._functions.get(name)
        if function is None:
            raise ServiceError(f"no service is registered as '{name}'")
        return function(context, **params)
