"""The runaway guard: an automatic loop that never reaches a wait state stops with an incident instead of
running forever, and the command still saves a consistent instance (nothing half-written)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import CompleteTask, Conflict, EventType, InstanceStatus, RetryInstance, TaskStatus
from engine import runtime as runtime_module
from tests.engine.builder import (
    diagram,
    end_event,
    flow,
    flows,
    gateway,
    script_task,
    start_event,
    timer_catch,
    user_task,
)
from tests.engine.support import (
    assert_mirrors_workflow,
    deploy,
    event_types,
    events,
    human_task_rows,
    incidents,
    instance_row,
    open_task,
    start,
    tasks_of,
)

BUDGET = 300  # the guard's limit in most tests here, so that a runaway takes a fraction of a second


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(runtime_module, "STEP_BUDGET", BUDGET)
    return BUDGET


def _endless(before: str = "") -> str:
    """[before ->] spin (n += 1) -> again -> spin, until n reaches ``limit`` (absent: never) -> report."""
    first = before or "spin"
    body = (start_event() + script_task("spin", "n = n + 1", "Spin") + gateway("again", default="round")
            + user_task("report", "Report") + end_event()
            + flows("start", first) + flows("spin", "again") + flow("again", "spin", element_id="round")
            + flow("again", "report", "limit is not None and n >= limit", element_id="leave")
            + flows("report", "end"))
    lanes = {"Practitioner": ["report"]}
    if before:
        body += user_task(before, "Kick off", form="test/count") + flow(before, "spin")
        lanes["Practitioner"].append(before)
    return diagram(body, lanes)


def test_an_endless_loop_becomes_an_incident_at_the_looping_element(engine, small_budget):
    deploy(engine, _endless())

    instance = start(engine, data={"n": 0, "limit": None})

    assert instance.status is InstanceStatus.ERROR and instance.tasks == []
    incident = instance.incident
    assert incident.error_type == "RunawayProcess"
    assert incident.message == f"more than {BUDGET} automatic steps in one go; is there an endless loop?"
    assert incident.element_id == "again"  # the element whose step spent the budget (start, then 2 per pass)
    assert incident.line is None
    # The loop really ran up to the budget (start, then spin and the gateway per pass), and no further.
    assert instance.data["n"] == (BUDGET - 1) // 2


def test_a_runaway_saves_a_consistent_instance_and_nothing_more(engine, small_budget):
    deploy(engine, _endless())

    instance = start(engine, data={"n": 0, "limit": None})

    row = instance_row(engine, instance.id)
    assert row.status is InstanceStatus.ERROR
    assert row.ended_at is None and row.next_timer_at is None
    assert row.data == instance.data
    # The state saved is the workflow where the guard stopped it: it loads, and its (no) ready user tasks
    # are what the task table holds. "report" was never reached, so there is no task row at all.
    assert_mirrors_workflow(engine, instance.id)
    assert human_task_rows(engine, instance.id) == []
    assert event_types(engine, instance.id) == [EventType.STARTED, EventType.ERROR]
    error = events(engine, instance.id)[-1]
    assert (error.data["error_type"], error.data["element_id"]) == ("RunawayProcess", instance.incident.element_id)
    [stored] = incidents(engine, instance.id)
    assert (stored.id, stored.resolved_at, stored.message) == (instance.incident.id, None, instance.incident.message)


def test_a_runaway_after_a_completed_task_keeps_that_completion_once(engine, small_budget):
    deploy(engine, _endless(before="kickoff"))
    instance = start(engine, data={"n": 0, "limit": None})
    kickoff = open_task(engine, instance.id, "kickoff")

    result = engine.run(CompleteTask(kickoff.id, {"amount": 3}), actor="pat")

    assert result.instance.status is InstanceStatus.ERROR and result.next_tasks == []
    assert engine.instance_view(instance.id).incident.error_type == "RunawayProcess"
    rows = tasks_of(engine, instance.id)
    assert [(row.element_id, row.state, row.completed_by) for row in rows] == [
        ("kickoff", TaskStatus.COMPLETED, "pat")]
    assert event_types(engine, instance.id) == [EventType.STARTED, EventType.COMPLETED, EventType.ERROR]
    assert engine.instance_view(instance.id).data["amount"] == 3
    with pytest.raises(Conflict):  # the completion happened once; the task cannot be completed again
        engine.run(CompleteTask(kickoff.id, {"amount": 4}), actor="pat")


def test_a_runaway_after_a_timer_fires_is_an_incident_the_worker_leaves_alone(engine, clock, small_budget):
    bpmn = diagram(start_event() + timer_catch("pause", "timeDuration", "PT1H") + script_task("spin", "n = n + 1")
                   + gateway("again", default="round") + flows("start", "pause", "spin", "again")
                   + flow("again", "spin", element_id="round"))
    deploy(engine, bpmn)
    instance = start(engine, data={"n": 0})
    clock.advance(timedelta(hours=1))

    assert engine.fire_due_timers() == 1

    view = engine.instance_view(instance.id)
    assert view.status is InstanceStatus.ERROR and view.incident.error_type == "RunawayProcess"
    assert view.next_timer_at is None
    assert engine.fire_due_timers() == 0  # an instance in error is not due: the worker does not spin on it
    assert event_types(engine, instance.id) == [EventType.STARTED, EventType.TIMER_FIRED, EventType.ERROR]


def test_a_retry_without_a_fix_runs_away_again_with_a_new_incident(engine, small_budget):
    deploy(engine, _endless())
    instance = start(engine, data={"n": 0, "limit": None})

    again = engine.run(RetryInstance(instance.id), actor="mike")

    assert again.status is InstanceStatus.ERROR and again.incident.id != instance.incident.id
    assert again.incident.error_type == "RunawayProcess"
    assert again.data["n"] > instance.data["n"]  # it went on from where it stopped, for one more budget
    assert [row.resolved_by for row in incidents(engine, instance.id)] == ["mike", None]


def test_a_loop_that_ends_within_the_budget_is_not_a_runaway(engine, small_budget):
    deploy(engine, _endless())

    instance = start(engine, data={"n": 0, "limit": (BUDGET - 10) // 2})

    assert instance.status is InstanceStatus.RUNNING, instance.incident
    assert [task.element_id for task in instance.tasks] == ["report"]
    assert_mirrors_workflow(engine, instance.id)


def test_a_retry_with_corrected_data_ends_the_loop(engine, small_budget):
    deploy(engine, _endless())
    instance = start(engine, data={"n": 0, "limit": None})

    fixed = engine.run(RetryInstance(instance.id, {"limit": 0}), actor="mike")

    assert fixed.status is InstanceStatus.RUNNING, fixed.incident
    assert [task.element_id for task in fixed.tasks] == ["report"]


@pytest.mark.slow
def test_the_real_budget_stops_an_endless_loop(engine, database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("20,000 sandboxed steps take about 11 s; the budget is backend-independent and the small-budget "
                    "tests above run on both backends")
    engine.command_time_limit = 600.0  # a slow machine must not hit the wall-time budget first
    deploy(engine, _endless())

    instance = start(engine, data={"n": 0, "limit": None})

    assert instance.status is InstanceStatus.ERROR
    assert instance.incident.message == (f"more than {runtime_module.STEP_BUDGET} automatic steps in one go; "
                                         "is there an endless loop?")
    assert instance.data["n"] == (runtime_module.STEP_BUDGET - 1) // 2
