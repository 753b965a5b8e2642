"""Races: one transaction per command, guarded by the instance's revision; exactly one winner, nothing torn."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm.exc import StaleDataError

from engine import ClaimTask, CompleteTask, Conflict, EventType, InstanceStatus, TaskStatus
from engine.store import Store
from tests.engine import workers
from tests.engine.builder import diagram, end_event, flows, start_event, timer_catch, user_task
from tests.engine.support import deploy, events, human_task_rows, instance_row, start

REVIEW = diagram(start_event() + user_task("review", "Review", form="test/decide") + user_task("next", "Next")
                 + end_event() + flows("start", "review", "next", "end"),
                 {"Process Manager": ["review"], "Practitioner": ["next"]})
PARALLEL = diagram(
    start_event() + '<bpmn:parallelGateway id="fork"/>\n<bpmn:parallelGateway id="join"/>\n'
    + user_task("build", "Build") + user_task("test", "Test") + user_task("sign", "Sign off") + end_event()
    + flows("start", "fork", "build", "join") + flows("fork", "test", "join") + flows("join", "sign", "end"),
    {"Practitioner": ["build", "test"], "Process Manager": ["sign"]},
)
PAUSE = diagram(start_event() + timer_catch("pause", "timeDuration", "PT1H") + end_event()
                + flows("start", "pause", "end"))
ROUNDS = 5


def race(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions in threads released together; return each one's result or the exception it raised."""
    barrier = threading.Barrier(len(actions))

    def contender(action: Callable[[], Any]) -> Any:
        barrier.wait(timeout=30)
        try:
            return action()
        except Exception as error:  # noqa: BLE001 - the race's loser is part of the result
            return error

    with ThreadPoolExecutor(len(actions)) as pool:
        return list(pool.map(contender, actions))


def completions(engine, instance_id: int) -> list:
    return [event for event in events(engine, instance_id) if event.type is EventType.COMPLETED]


@pytest.mark.parametrize("round", range(ROUNDS))
def test_a_double_complete_from_two_threads_has_one_winner(engine, round):
    deploy(engine, REVIEW)
    instance = start(engine)
    task_id = instance.tasks[0].id

    results = race(lambda: engine.run(CompleteTask(task_id, {"decision": "yes"}), actor="mia"),
                   lambda: engine.run(CompleteTask(task_id, {"decision": "no"}), actor="max"))

    losers = [result for result in results if isinstance(result, Exception)]
    assert len(losers) == 1 and isinstance(losers[0], Conflict), results
    winner = "mia" if not isinstance(results[0], Exception) else "max"
    [completed] = completions(engine, instance.id)
    assert completed.actor == winner
    rows = human_task_rows(engine, instance.id)
    assert sorted((row.element_id, row.status, row.completed_by) for row in rows) == [
        ("next", TaskStatus.OPEN, None), ("review", TaskStatus.COMPLETED, winner)]
    view = engine.instance_view(instance.id)
    assert view.data["decision"] == ("yes" if winner == "mia" else "no")


@pytest.mark.parametrize("round", range(ROUNDS))
def test_a_double_claim_from_two_threads_has_one_winner(engine, round):
    deploy(engine, REVIEW)
    instance = start(engine)
    task_id = instance.tasks[0].id

    results = race(lambda: engine.run(ClaimTask(task_id), actor="mia"),
                   lambda: engine.run(ClaimTask(task_id), actor="max"))

    winners = [result.assignee for result in results if not isinstance(result, Exception)]
    assert len(winners) == 1 and sum(isinstance(r, Conflict) for r in results) == 1, results
    assert engine.task_view(task_id).assignee == winners[0]
    assert [e.actor for e in events(engine, instance.id) if e.type is EventType.CLAIMED] == winners


def test_completing_both_parallel_tasks_at_once_loses_no_update(engine):
    deploy(engine, PARALLEL)
    instance = start(engine)
    build, test = sorted(instance.tasks, key=lambda task: task.element_id)

    results = race(lambda: engine.run(CompleteTask(build.id), actor="pat"),
                   lambda: engine.run(CompleteTask(test.id), actor="sam"))

    assert not any(isinstance(result, Exception) for result in results), results
    view = engine.instance_view(instance.id)
    assert [task.element_id for task in view.tasks] == ["sign"]
    assert len(completions(engine, instance.id)) == 2


def test_the_revision_alone_refuses_a_stale_write(engine, database_url, monkeypatch):
    """Without the row lock, ``WHERE revision = :expected`` still lets only one of two interleaved commands win."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite writers take the database lock at BEGIN, so two commands cannot interleave")
    deploy(engine, REVIEW)
    instance = start(engine)
    task_id = instance.tasks[0].id
    unlocked = Store.get_instance
    both_read = threading.Barrier(2)

    def read_without_lock(self, instance_id, *, lock=False, with_state=False, skip_locked=False):
        row = unlocked(self, instance_id, lock=False, with_state=with_state)
        if lock:
            both_read.wait(timeout=30)  # both commands have read revision r before either writes
        return row

    monkeypatch.setattr(Store, "get_instance", read_without_lock)
    results = race(lambda: engine.run(ClaimTask(task_id), actor="mia"),
                   lambda: engine.run(ClaimTask(task_id), actor="max"))

    [loser] = [result for result in results if isinstance(result, Exception)]
    [winner] = [result for result in results if not isinstance(result, Exception)]
    assert isinstance(loser, Conflict) and isinstance(loser.__cause__, StaleDataError), results
    assert engine.task_view(task_id).assignee == winner.assignee  # the loser's write was rolled back
    assert [e.actor for e in events(engine, instance.id) if e.type is EventType.CLAIMED] == [winner.assignee]


def test_two_timer_workers_at_once_fire_each_timer_once(engine, clock):
    deploy(engine, PAUSE)
    instances = [start(engine) for _ in range(30)]
    due = clock.now() + timedelta(hours=1)

    handled = race(lambda: engine.fire_due_timers(due), lambda: engine.fire_due_timers(due))

    assert not any(isinstance(result, Exception) for result in handled), handled
    assert sum(handled) == len(instances)
    for instance in instances:
        fired = [event for event in events(engine, instance.id) if event.type is EventType.TIMER_FIRED]
        assert len(fired) == 1
        assert engine.instance_view(instance.id).status is InstanceStatus.COMPLETED


# -- several processes, on PostgreSQL -------------------------------------------------------------


def _in_processes(count: int, target: Callable[..., Any], *args: Any) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(count)
    with context.Pool(count) as pool:
        pending = [pool.apply_async(target, (*args[index], barrier)) for index in range(count)]
        return [result.get(timeout=120) for result in pending]


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("processes racing on one database need PostgreSQL")
    return database_url


@pytest.mark.postgres
def test_a_double_complete_from_two_processes(engine, clock, postgres_url):
    deploy(engine, REVIEW)
    instance = start(engine)
    task_id = instance.tasks[0].id

    results = _in_processes(2, workers.complete_task,
                            (postgres_url, clock.now(), task_id, "mia", {"decision": "yes"}),
                            (postgres_url, clock.now(), task_id, "max", {"decision": "no"}))

    assert sorted(results) == ["completed", "conflict"]
    [completed] = completions(engine, instance.id)
    assert completed.actor == ("mia" if results[0] == "completed" else "max")
    assert len([row for row in human_task_rows(engine, instance.id) if row.element_id == "next"]) == 1


@pytest.mark.postgres
def test_a_double_claim_from_two_processes(engine, clock, postgres_url):
    deploy(engine, REVIEW)
    task_id = start(engine).tasks[0].id

    results = _in_processes(2, workers.claim_task, (postgres_url, clock.now(), task_id, "mia"),
                            (postgres_url, clock.now(), task_id, "max"))

    assert sorted(results) == ["claimed", "conflict"]
    assert engine.task_view(task_id).assignee == ("mia" if results[0] == "claimed" else "max")


@pytest.mark.postgres
def test_two_timer_workers_in_two_processes_fire_each_timer_once(engine, clock, postgres_url):
    deploy(engine, PAUSE)
    instances = [start(engine) for _ in range(40)]
    due = clock.now() + timedelta(hours=1)

    handled = _in_processes(2, workers.fire_timers, (postgres_url, due), (postgres_url, due))

    assert sum(handled) == len(instances)
    for instance in instances:
        fired = [event for event in events(engine, instance.id) if event.type is EventType.TIMER_FIRED]
        assert len(fired) == 1
        assert instance_row(engine, instance.id).status is InstanceStatus.COMPLETED
