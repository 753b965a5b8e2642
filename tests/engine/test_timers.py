"""Timers run on the engine's clock: persisted due times, firing by a worker, SLAs on user tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import (
    CompleteTask,
    Conflict,
    EventType,
    FireTimers,
    InstanceStatus,
    ResumeInstance,
    RetryInstance,
    SuspendInstance,
    TaskStatus,
)
from tests.engine.builder import (
    boundary_timer,
    diagram,
    end_event,
    flows,
    script_task,
    start_event,
    timer,
    timer_catch,
    user_task,
)
from tests.engine.support import deploy, event_types, events, instance_row, open_task, start, tasks_of

PAUSE = diagram(start_event() + timer_catch("pause", "timeDuration", "PT2H") + script_task("after", "woke = now()")
                + end_event() + flows("start", "pause", "after", "end"))
SLA_ESCALATION = diagram(
    start_event() + user_task("authorize", "Authorize", form="test/decide")
    + boundary_timer("overdue", "authorize", "timeDuration", '"PT48H"', interrupting=False)
    + user_task("escalate", "Escalate", form="test/escalate") + end_event("escalated") + end_event()
    + flows("start", "authorize", "end") + flows("overdue", "escalate", "escalated"),
    {"Process Manager": ["authorize"], "Process Owner": ["escalate"]},
)
DEADLINE = diagram(
    start_event() + user_task("respond", "Respond") + boundary_timer("too_late", "respond", "timeDuration", "P1D")
    + script_task("expire", "expired = True") + end_event("expired_end") + end_event()
    + flows("start", "respond", "end") + flows("too_late", "expire", "expired_end"),
    {"Practitioner": ["respond"]},
)


def timer_events(engine, instance_id):
    return [event for event in events(engine, instance_id) if event.type is EventType.TIMER_FIRED]


def test_the_next_timer_is_persisted_and_fires_only_when_due(engine, clock):
    deploy(engine, PAUSE)
    instance = start(engine)
    due = clock.now() + timedelta(hours=2)

    assert instance.status is InstanceStatus.WAITING and instance.next_timer_at == due
    assert instance_row(engine, instance.id).next_timer_at == due
    assert engine.fire_due_timers(due - timedelta(seconds=1)) == 0
    assert engine.instance_view(instance.id).status is InstanceStatus.WAITING

    clock.set(due)
    assert engine.fire_due_timers() == 1

    view = engine.instance_view(instance.id)
    assert view.status is InstanceStatus.COMPLETED and view.next_timer_at is None
    assert view.data == {"woke": due.isoformat()}
    [fired] = timer_events(engine, instance.id)
    assert (fired.actor, fired.data["element_id"], fired.at) == ("system", "pause", due)
    assert engine.fire_due_timers(due + timedelta(days=1)) == 0  # nothing fires twice


def test_each_due_instance_fires_once_and_others_wait(engine, clock):
    deploy(engine, PAUSE)
    early = [start(engine) for _ in range(3)]
    clock.advance(timedelta(hours=1))
    late = start(engine)

    assert engine.fire_due_timers(clock.now() + timedelta(hours=1, minutes=30)) == 3

    assert [engine.instance_view(i.id).status for i in early] == [InstanceStatus.COMPLETED] * 3
    assert engine.instance_view(late.id).status is InstanceStatus.WAITING
    assert [len(timer_events(engine, i.id)) for i in (*early, late)] == [1, 1, 1, 0]


def test_an_escalation_timer_firing_on_a_fake_clock_opens_an_escalation_and_keeps_the_task(engine, clock):
    deploy(engine, SLA_ESCALATION)
    instance = start(engine)
    authorize = instance.tasks[0]
    assert authorize.due_at == clock.now() + timedelta(hours=48)
    assert instance.next_timer_at == authorize.due_at

    clock.advance(timedelta(hours=47))
    assert engine.fire_due_timers() == 0
    clock.advance(timedelta(hours=1))
    assert engine.fire_due_timers() == 1

    view = engine.instance_view(instance.id)
    assert view.status is InstanceStatus.RUNNING
    assert sorted((task.element_id, task.role) for task in view.tasks) == [("authorize", "manager"),
                                                                             ("escalate", "owner")]
    assert open_task(engine, instance.id, "authorize").id == authorize.id  # the same task stays open
    assert timer_events(engine, instance.id)[0].data["element_id"] == "overdue"
    engine.run(CompleteTask(open_task(engine, instance.id, "escalate").id, {"escalation_note": "chased"}),
               actor="olivia")
    done = engine.run(CompleteTask(authorize.id, {"decision": "yes"}), actor="mike")
    assert done.instance.status is InstanceStatus.COMPLETED


def test_completing_before_the_sla_means_no_escalation(engine, clock):
    deploy(engine, SLA_ESCALATION)
    instance = start(engine)

    done = engine.run(CompleteTask(instance.tasks[0].id, {"decision": "yes"}), actor="mike")

    assert done.instance.status is InstanceStatus.COMPLETED
    assert instance_row(engine, instance.id).next_timer_at is None
    clock.advance(timedelta(days=5))
    assert engine.fire_due_timers() == 0


def test_an_interrupting_timer_withdraws_the_task(engine, clock):
    deploy(engine, DEADLINE)
    instance = start(engine)
    task = instance.tasks[0]

    clock.advance(timedelta(days=1))
    assert engine.fire_due_timers() == 1

    view = engine.instance_view(instance.id)
    assert view.status is InstanceStatus.COMPLETED and view.data == {"expired": True}
    assert engine.task_view(task.id).state is TaskStatus.CANCELLED
    with pytest.raises(Conflict, match="withdrawn"):
        engine.run(CompleteTask(task.id), actor="pat")


def test_a_task_whose_interrupting_timer_fell_due_cannot_be_completed_before_the_worker_fires_it(engine, clock):
    deploy(engine, DEADLINE)
    instance = start(engine)
    task = instance.tasks[0]
    clock.advance(timedelta(days=1))  # due now; the worker has not come by

    with pytest.raises(Conflict, match="ended at its deadline: the timer 'too_late' fell due at ") as refused:
        engine.run(CompleteTask(task.id), actor="pat")
    assert set(refused.value.context) == {"task_id", "timer", "due_at"}
    assert (refused.value.context["task_id"], refused.value.context["timer"]) == (task.id, "too_late")
    assert refused.value.context["due_at"] <= clock.now().isoformat()
    assert engine.task_view(task.id).state is TaskStatus.OPEN  # nothing was written
    assert event_types(engine, instance.id) == [EventType.STARTED]
    assert engine.fire_due_timers() == 1
    assert engine.instance_view(instance.id).data == {"expired": True}


def test_a_task_completed_a_moment_before_its_interrupting_timer_is_done(engine, clock):
    deploy(engine, DEADLINE)
    instance = start(engine)
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    done = engine.run(CompleteTask(instance.tasks[0].id), actor="pat")
    assert done.instance.status is InstanceStatus.COMPLETED


def test_an_intermediate_timer_to_a_date_from_form_data(engine, clock):
    deploy(engine, diagram(
        start_event() + user_task("schedule", "Schedule", form="test/schedule")
        + timer_catch("until", "timeDate", "wake_at") + user_task("act", "Act") + end_event()
        + flows("start", "schedule", "until", "act", "end"),
        {"Practitioner": ["schedule", "act"]},
    ))
    instance = start(engine)
    wake_at = datetime(2026, 2, 1, 6, 30, tzinfo=UTC)

    waiting = engine.run(CompleteTask(instance.tasks[0].id, {"wake_at": "2026-02-01T07:30:00+01:00"}),
                         actor="pat")

    assert waiting.instance.status is InstanceStatus.WAITING and waiting.next_tasks == []
    assert engine.instance_view(instance.id).next_timer_at == wake_at
    assert engine.fire_due_timers(wake_at - timedelta(minutes=1)) == 0
    clock.set(wake_at)
    assert engine.fire_due_timers() == 1
    assert [task.element_id for task in engine.instance_view(instance.id).tasks] == ["act"]


def test_a_timer_to_a_date_in_the_past_fires_at_the_next_tick(engine, clock):
    deploy(engine, diagram(start_event() + timer_catch("until", "timeDate", "2025-12-31T00:00:00Z")
                           + end_event() + flows("start", "until", "end")))

    instance = start(engine)

    # It is due already; the worker fires it (the command that started it never blocks on it).
    assert instance.status in (InstanceStatus.WAITING, InstanceStatus.COMPLETED)
    if instance.status is InstanceStatus.WAITING:
        assert engine.fire_due_timers() == 1
    assert engine.instance_view(instance.id).status is InstanceStatus.COMPLETED


def test_a_timer_start_event_delays_the_start(engine, clock):
    deploy(engine, diagram(
        start_event("start", timer("timeDuration", "PT30M", "start_timer")) + user_task("work", "Work")
        + end_event() + flows("start", "work", "end"),
        {"Practitioner": ["work"]},
    ))
    instance = start(engine)

    assert instance.status is InstanceStatus.WAITING and instance.tasks == []
    assert instance.next_timer_at == clock.now() + timedelta(minutes=30)
    clock.advance(timedelta(minutes=30))
    assert engine.fire_due_timers() == 1
    view = engine.instance_view(instance.id)
    assert view.status is InstanceStatus.RUNNING and [t.element_id for t in view.tasks] == ["work"]
    assert timer_events(engine, instance.id)[0].data["element_id"] == "start"


def test_a_suspended_instance_does_not_fire_until_resumed(engine, clock):
    deploy(engine, PAUSE)
    instance = start(engine)
    engine.run(SuspendInstance(instance.id), actor="mike")

    clock.advance(timedelta(hours=3))
    assert engine.fire_due_timers() == 0
    assert engine.instance_view(instance.id).status is InstanceStatus.SUSPENDED

    resumed = engine.run(ResumeInstance(instance.id), actor="mike")
    assert resumed.status is InstanceStatus.WAITING and resumed.next_timer_at is not None
    assert engine.fire_due_timers() == 1
    assert engine.instance_view(instance.id).status is InstanceStatus.COMPLETED


def test_a_timer_expression_that_fails_at_run_time_is_an_incident_that_a_retry_fixes(engine, clock):
    deploy(engine, diagram(start_event() + timer_catch("until", "timeDate", "wake_at") + end_event()
                           + flows("start", "until", "end")))
    instance = start(engine)

    assert instance.status is InstanceStatus.ERROR
    assert instance.incident.element_id == "until" and "wake_at" in instance.incident.message
    assert engine.fire_due_timers(clock.now() + timedelta(days=365)) == 0

    retried = engine.run(RetryInstance(instance.id, {"wake_at": "2026-01-06T09:00:00+00:00"}), actor="mike")
    assert retried.status is InstanceStatus.WAITING
    assert retried.next_timer_at == datetime(2026, 1, 6, 9, tzinfo=UTC)
    assert engine.fire_due_timers(retried.next_timer_at) == 1
    assert engine.instance_view(instance.id).status is InstanceStatus.COMPLETED


def test_a_repeating_reminder_fires_once_per_cycle(engine, clock):
    deploy(engine, diagram(
        start_event() + user_task("work", "Work")
        + boundary_timer("remind", "work", "timeCycle", "R3/PT1H", interrupting=False)
        + script_task("count", "reminders = reminders + 1 if isinstance(reminders, int) else 1")
        + end_event("reminded") + end_event() + flows("start", "work", "end") + flows("remind", "count", "reminded"),
        {"Practitioner": ["work"]},
    ))
    instance = start(engine, data={"reminders": None})

    for _ in range(5):
        clock.advance(timedelta(hours=1))
        engine.fire_due_timers()

    assert len(timer_events(engine, instance.id)) == 3
    assert engine.instance_view(instance.id).next_timer_at is None
    assert [task.element_id for task in engine.instance_view(instance.id).tasks] == ["work"]


def test_a_worker_that_fell_behind_catches_up_on_a_repeating_timer(engine, clock):
    deploy(engine, diagram(
        start_event() + user_task("work", "Work")
        + boundary_timer("remind", "work", "timeCycle", "R3/PT1H", interrupting=False)
        + script_task("count", "reminders = reminders + 1") + end_event("reminded") + end_event()
        + flows("start", "work", "end") + flows("remind", "count", "reminded"),
        {"Practitioner": ["work"]},
    ))
    instance = start(engine, data={"reminders": 0})
    clock.advance(timedelta(hours=5))

    assert engine.fire_due_timers() == 1

    view = engine.instance_view(instance.id)
    assert view.status is InstanceStatus.RUNNING, view.incident
    assert view.next_timer_at is None and [task.element_id for task in view.tasks] == ["work"]


def test_firing_records_one_timer_event_per_instance_for_many_instances(engine, clock):
    deploy(engine, PAUSE)
    instances = [start(engine) for _ in range(12)]
    clock.advance(timedelta(hours=2))

    assert engine.fire_due_timers(limit=5) == 5
    assert engine.fire_due_timers() == 7

    assert [len(timer_events(engine, i.id)) for i in instances] == [1] * 12
    assert all(EventType.INSTANCE_COMPLETED in event_types(engine, i.id) for i in instances)
    assert {row.state for i in instances for row in tasks_of(engine, i.id)} == set()


def test_each_instance_fires_in_its_own_transaction(engine, clock, monkeypatch):
    deploy(engine, PAUSE)
    broken, *others = [start(engine) for _ in range(3)]
    original = FireTimers.execute

    def fail_for_one(self, ctx):
        result = original(self, ctx)  # the broken instance's changes are made, then rolled back
        if self.instance_id == broken.id:
            raise RuntimeError("a bug while firing")
        return result

    monkeypatch.setattr(FireTimers, "execute", fail_for_one)
    clock.advance(timedelta(hours=2))

    engine.fire_due_timers()

    assert [engine.instance_view(i.id).status for i in others] == [InstanceStatus.COMPLETED] * 2
    view = engine.instance_view(broken.id)
    assert view.status is InstanceStatus.WAITING  # nothing it did was kept, and it is tried again later
    assert view.next_timer_at == clock.now() + timedelta(seconds=30)
    assert timer_events(engine, broken.id) == []
    monkeypatch.setattr(FireTimers, "execute", original)
    assert engine.fire_due_timers() == 0  # backing off
    clock.advance(timedelta(seconds=30))
    assert engine.fire_due_timers() == 1
    assert engine.instance_view(broken.id).status is InstanceStatus.COMPLETED
    assert instance_row(engine, broken.id).timer_failures == 0


def test_an_instance_whose_timers_fail_every_pass_backs_off_then_becomes_an_incident(engine, clock, monkeypatch):
    deploy(engine, PAUSE)
    broken, healthy = start(engine), start(engine)
    original = FireTimers.execute

    def fail_for_one(self, ctx):
        if self.instance_id == broken.id:
            raise RuntimeError("a bug while firing")
        return original(self, ctx)

    monkeypatch.setattr(FireTimers, "execute", fail_for_one)
    clock.advance(timedelta(hours=2))
    waits = []
    for _attempt in range(4):
        engine.fire_due_timers()
        row = instance_row(engine, broken.id)
        assert row.status is InstanceStatus.WAITING
        waits.append(row.next_timer_at - clock.now())
        clock.advance(waits[-1])
    assert waits == [timedelta(seconds=30 * 2 ** n) for n in range(4)]
    assert engine.instance_view(healthy.id).status is InstanceStatus.COMPLETED  # fired on the first pass

    assert engine.fire_due_timers() == 0  # the fifth failure in a row

    view = engine.instance_view(broken.id)
    assert view.status is InstanceStatus.ERROR and view.next_timer_at is None
    assert view.incident.error_type == "RuntimeError"
    assert "failed 5 times in a row" in view.incident.message and "a bug while firing" in view.incident.message
    assert event_types(engine, broken.id)[-1] is EventType.ERROR
    assert engine.fire_due_timers(clock.now() + timedelta(days=30)) == 0  # no longer in line
    monkeypatch.setattr(FireTimers, "execute", original)
    retried = engine.run(RetryInstance(broken.id), actor="mike")  # fires what fell due meanwhile
    assert retried.status is InstanceStatus.COMPLETED and retried.incident is None
    assert len(timer_events(engine, broken.id)) == 1


def test_the_timer_loop_logs_a_failed_pass_and_carries_on(engine, monkeypatch, caplog):
    import threading

    from engine.worker import run_timer_loop

    stop = threading.Event()
    passes = []

    def flaky(*_args, **_kwargs):
        passes.append(len(passes))
        if len(passes) == 1:
            raise RuntimeError("the database went away")
        stop.set()
        return 0

    monkeypatch.setattr(engine, "fire_due_timers", flaky)
    run_timer_loop(engine, stop, interval=0.01)

    assert passes == [0, 1]
    assert "the timer pass failed" in caplog.text
