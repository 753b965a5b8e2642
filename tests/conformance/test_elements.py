"""Every conformance diagram deploys and runs to its end, or is refused at deploy with a clear problem.

The driver completes open human tasks (each by a different person), works external tasks, delivers the
case's messages and moves the clock to the next timer, until the instance completes. An instance that
stops with an incident, or waits for nothing the driver can give, fails the test with its state.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from engine import (
    CompleteExternalTask,
    CompleteTask,
    CorrelateMessage,
    DeployError,
    DeployVersion,
    FetchAndLockExternalTasks,
    InstanceStatus,
    StartInstance,
)
from engine.views import InstanceView
from tests.conformance.diagrams import CASES, Case

ROUNDS = 30


def drive(engine, clock, case: Case, instance: InstanceView) -> InstanceView:
    people = (f"person-{n}" for n in itertools.count(1))
    messages = list(case.messages)
    for _ in range(ROUNDS):
        view = engine.instance_view(instance.id)
        if view.status in (InstanceStatus.COMPLETED, InstanceStatus.ERROR, InstanceStatus.CANCELLED):
            return view
        if case.timers_first and view.next_timer_at is not None:
            clock.set(max(clock.now(), view.next_timer_at))
            engine.fire_due_timers()
            continue
        if case.messages_first and messages:
            name, keys, payload = messages.pop(0)
            engine.run(CorrelateMessage(name, keys, payload), actor="sender")
            continue
        if view.tasks:
            for task in view.tasks:
                engine.run(CompleteTask(task.id, {}), actor=next(people))
            continue
        work = engine.run(FetchAndLockExternalTasks("conformance", {"work": 60_000}, 10), actor="worker")
        if work:
            for task in work:
                engine.run(CompleteExternalTask(task.id, "conformance", {"worked": True}), actor="worker")
            continue
        if messages:
            name, keys, payload = messages.pop(0)
            engine.run(CorrelateMessage(name, keys, payload), actor="sender")
            continue
        if view.next_timer_at is not None:
            clock.set(max(clock.now(), view.next_timer_at))
            engine.fire_due_timers()
            continue
        raise AssertionError(f"{case.name}: waits for nothing the driver can give: {view}")
    raise AssertionError(f"{case.name}: still {view.status} after {ROUNDS} rounds: {view}")


def test_a_waiting_instance_says_what_it_waits_for(engine, clock):
    [case] = [case for case in CASES if case.name == "event_based_gateway_message"]
    engine.run(DeployVersion("proc", "change", case.bpmn), actor="olivia")

    instance = engine.run(StartInstance("proc", dict(case.data)), actor="alice")

    assert instance.status is InstanceStatus.WAITING
    assert instance.waiting_for == [{"kind": "message", "name": "approval"},
                                    {"kind": "timer", "due_at": (clock.now() + timedelta(hours=1)).isoformat()}]
    assert engine.instance_view(instance.id).waiting_for == instance.waiting_for


@pytest.mark.parametrize("case", [case for case in CASES if case.refused is None], ids=lambda case: case.name)
def test_the_diagram_runs_to_its_end(engine, clock, case):
    """It deploys and runs to its end; or, for a case with ``incident``, stops with that incident."""
    result = engine.run(DeployVersion("proc", "change", case.bpmn, decisions=case.decisions), actor="olivia")
    instance = engine.run(StartInstance("proc", dict(case.data)), actor="alice")

    final = drive(engine, clock, case, instance)

    if case.incident is not None:  # a diagram that cannot go on says so with an incident, never waits silently
        assert final.status is InstanceStatus.ERROR and final.incident.error_type == case.incident, final
        return
    assert final.status is InstanceStatus.COMPLETED, (final.incident, result.warnings)
    assert final.tasks == []
    assert case.expect(final.data), final.data


@pytest.mark.parametrize("case", [case for case in CASES if case.refused is not None], ids=lambda case: case.name)
def test_the_diagram_is_refused_at_deploy_with_the_reason(engine, case):
    with pytest.raises(DeployError) as caught:
        engine.run(DeployVersion("proc", "change", case.bpmn, decisions=case.decisions), actor="olivia")

    messages = [problem.message for problem in caught.value.problems]
    assert any(case.refused in message for message in messages), messages
    assert all(problem.element_id for problem in caught.value.problems), caught.value.problems
