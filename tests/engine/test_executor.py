"""The executor's contract: one transaction per command, lost races become ``Conflict`` with everything rolled
back, other database errors pass through, after-commit hooks run only after a commit; and the timer loop."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from engine import Conflict, DeployVersion, InstanceStatus, NotFound, PageRequest
from engine.context import CommandContext
from engine.worker import run_timer_loop
from tests.engine.builder import diagram, end_event, flows, start_event, timer_catch
from tests.engine.support import FORMS, deploy, start

PLAIN = diagram(start_event() + end_event() + flows("start", "end"))


@dataclass(frozen=True)
class DeployThenFail:
    """Deploys (so the transaction has written something), registers a hook, then fails with ``error``."""

    error: Exception | None
    hooks: list[str]

    def execute(self, ctx: CommandContext) -> str:
        DeployVersion("proc", "change", PLAIN, forms=FORMS).execute(ctx)
        ctx.store.session.flush()
        ctx.after_commit.append(lambda: self.hooks.append("ran"))
        if self.error is not None:
            raise self.error
        return "done"


def _orig(message: str) -> IntegrityError:
    return IntegrityError("INSERT ...", {}, Exception(message))


@pytest.mark.parametrize("error, detail", [
    (StaleDataError("UPDATE statement on table 'process_instance' expected to update 1 row(s); 0 were matched."),
     "The instance changed while this request ran; reload it and try again."),
    (_orig("UNIQUE constraint failed: process_model.key"),
     "A concurrent request created the same thing first; reload and try again."),
    (_orig('duplicate key value violates unique constraint "uq_process_model_key"'),
     "A concurrent request created the same thing first; reload and try again."),
    (OperationalError("UPDATE ...", {}, Exception("database is locked")),
     "The database is busy with a conflicting change; try again."),
    (OperationalError("UPDATE ...", {}, Exception("deadlock detected")),
     "The database is busy with a conflicting change; try again."),
    (OperationalError("UPDATE ...", {}, Exception("could not serialize access due to concurrent update")),
     "The database is busy with a conflicting change; try again."),
], ids=["stale", "unique-sqlite", "unique-postgresql", "locked", "deadlock", "serialization"])
def test_a_lost_race_is_a_conflict_and_rolls_the_command_back(engine, error, detail):
    hooks: list[str] = []

    with pytest.raises(Conflict) as caught:
        engine.run(DeployThenFail(error, hooks), actor="olivia")

    assert caught.value.detail == detail and caught.value.__cause__ is error
    assert engine.list_models(None, PageRequest()).total == 0  # the deploy before the error is gone
    assert hooks == []


@pytest.mark.parametrize("error", [
    _orig("NOT NULL constraint failed: process_model.name"),
    OperationalError("SELECT ...", {}, Exception("disk I/O error")),
    RuntimeError("a bug in a command"),
], ids=["not-null", "io-error", "bug"])
def test_other_errors_pass_through_and_roll_back(engine, error):
    hooks: list[str] = []

    with pytest.raises(type(error)) as caught:
        engine.run(DeployThenFail(error, hooks), actor="olivia")

    assert caught.value is error
    assert engine.list_models(None, PageRequest()).total == 0
    assert hooks == []


def test_after_commit_hooks_run_once_the_command_committed(engine):
    hooks: list[str] = []

    assert engine.run(DeployThenFail(None, hooks), actor="olivia") == "done"

    assert hooks == ["ran"]
    assert engine.list_models(None, PageRequest()).total == 1


def test_an_unknown_task_is_not_found(engine):
    with pytest.raises(NotFound) as caught:
        engine.task_view("0b3c6f1e-0000-4000-8000-000000000000")
    assert caught.value.detail == "Task 0b3c6f1e-0000-4000-8000-000000000000 does not exist."


# -- the timer loop ---------------------------------------------------------------------------------

WAIT = diagram(start_event() + timer_catch("pause", "timeDuration", "PT1H") + end_event()
               + flows("start", "pause", "end"))


class _Passes:
    """Wraps ``engine.fire_due_timers``: fails the passes in ``failing``, sets the stop flag on pass ``stop_after``."""

    def __init__(self, engine: Any, stop: threading.Event, *, stop_after: int, failing: tuple[int, ...] = ()) -> None:
        self.real = engine.fire_due_timers
        self.stop, self.stop_after, self.failing = stop, stop_after, failing
        self.count = 0

    def __call__(self) -> int:
        self.count += 1
        if self.count == self.stop_after:
            self.stop.set()
        if self.count in self.failing:
            raise OSError("the database went away")
        return self.real()


def test_the_timer_loop_fires_due_timers_until_stopped(engine, clock, monkeypatch, caplog):
    deploy(engine, WAIT)
    instance = start(engine)
    clock.advance(timedelta(hours=1))
    stop = threading.Event()
    passes = _Passes(engine, stop, stop_after=2)
    monkeypatch.setattr(engine, "fire_due_timers", passes)

    with caplog.at_level(logging.INFO, logger="engine.worker"):
        run_timer_loop(engine, stop, interval=0)

    assert passes.count == 2  # the pass that set the stop flag was the last
    assert engine.instance_view(instance.id).status is InstanceStatus.COMPLETED
    assert [record.getMessage() for record in caplog.records] == ["fired the timers of 1 instance(s)"]


def test_a_failing_timer_pass_is_logged_and_the_loop_goes_on(engine, clock, monkeypatch, caplog):
    deploy(engine, WAIT)
    instance = start(engine)
    clock.advance(timedelta(hours=1))
    stop = threading.Event()
    passes = _Passes(engine, stop, stop_after=2, failing=(1,))
    monkeypatch.setattr(engine, "fire_due_timers", passes)

    with caplog.at_level(logging.INFO, logger="engine.worker"):
        run_timer_loop(engine, stop, interval=0)

    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        ("ERROR", "the timer pass failed; retrying in 0.0 s"), ("INFO", "fired the timers of 1 instance(s)")]
    assert caplog.records[0].exc_info[0] is OSError
    assert engine.instance_view(instance.id).status is InstanceStatus.COMPLETED


def test_a_stopped_loop_does_not_run_a_pass(engine, monkeypatch):
    stop = threading.Event()
    stop.set()
    monkeypatch.setattr(engine, "fire_due_timers", lambda: pytest.fail("a pass ran after the stop"))

    run_timer_loop(engine, stop, interval=0)
