"""The audit trail: every command leaves an event with its actor, time, instance and task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import (
    AssignTask,
    CancelInstance,
    ClaimTask,
    CompleteTask,
    CorrelateMessage,
    EventType,
    InstanceStatus,
    ResumeInstance,
    RetryInstance,
    SuspendInstance,
    UnclaimTask,
)
from engine.models import Event
from tests.engine.builder import boundary_timer, diagram, end_event, flows, script_task, start_event, user_task
from tests.engine.support import MESSAGES, deploy, events, open_task, start

E = EventType
LIFE = diagram(
    start_event()
    + user_task("review", "Review", form="test/decide")
    + boundary_timer("reminder", "review", "timeDuration", "PT1H", interrupting=False)
    + user_task("chase", "Chase") + end_event("chased")
    + '<bpmn:intermediateCatchEvent id="wait_approval">'
      '<bpmn:messageEventDefinition id="wait_approval_def" messageRef="msg_approval">'
      "<bpmn:extensionElements><spiffworkflow:messageVariable>approval</spiffworkflow:messageVariable>"
      "</bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>\n"
    + script_task("divide", "ratio = total / count") + user_task("close", "Close") + end_event()
    + flows("start", "review", "wait_approval", "divide", "close", "end") + flows("reminder", "chase", "chased"),
    {"Process Manager": ["review", "chase"], "Practitioner": ["close"]},
    before=MESSAGES,
)


def test_the_whole_life_of_an_instance_is_in_its_audit_trail(engine, clock):
    deploy(engine, LIFE)
    steps = []  # (when, type, actor) as each step is taken

    def step(type: EventType, actor: str) -> None:
        steps.append((clock.now(), type, actor))
        clock.advance(timedelta(minutes=1))

    instance = start(engine, data={"change_ref": "A", "total": 10, "count": 0}, actor="alice")
    step(E.STARTED, "alice")
    review = instance.tasks[0].id
    engine.run(ClaimTask(review), actor="mia")
    step(E.CLAIMED, "mia")
    engine.run(UnclaimTask(review), actor="mia")
    step(E.UNCLAIMED, "mia")
    engine.run(AssignTask(review, assignee="max"), actor="mike")
    step(E.ASSIGNED, "mike")
    clock.advance(timedelta(hours=1))
    engine.fire_due_timers()
    step(E.TIMER_FIRED, "system")
    engine.run(CompleteTask(review, {"decision": "yes", "note": "fine"}), actor="max")
    step(E.COMPLETED, "max")
    failed = engine.run(CorrelateMessage("approval", {"change_ref": "A"}, {"change_ref": "A"}), actor="gateway")
    assert failed.status is InstanceStatus.ERROR
    steps.append((clock.now(), E.MESSAGE_RECEIVED, "gateway"))
    step(E.ERROR, "gateway")
    engine.run(RetryInstance(instance.id, {"count": 2}), actor="mike")
    step(E.RETRIED, "mike")
    engine.run(SuspendInstance(instance.id, reason="freeze"), actor="mike")
    step(E.SUSPENDED, "mike")
    engine.run(ResumeInstance(instance.id), actor="mike")
    step(E.RESUMED, "mike")
    engine.run(CancelInstance(instance.id, reason="withdrawn"), actor="olivia")
    step(E.CANCELLED, "olivia")

    trail = events(engine, instance.id)
    assert [(event.at, event.type, event.actor) for event in trail] == steps
    assert {event.instance_id for event in trail} == {instance.id}
    by_type = {event.type: event for event in trail}
    for type in (E.CLAIMED, E.UNCLAIMED, E.ASSIGNED, E.COMPLETED):
        assert by_type[type].task_id == review and by_type[type].data["element_id"] == "review"
    assert by_type[E.ASSIGNED].data["assignee"] == "max"
    assert by_type[E.UNCLAIMED].data["previous"] == "mia"
    assert by_type[E.COMPLETED].data["data"] == {"decision": "yes", "note": "fine"}
    assert by_type[E.STARTED].data["data"] == {"change_ref": "A", "total": 10, "count": 0}
    assert by_type[E.STARTED].data["version"] == 1
    assert by_type[E.TIMER_FIRED].data["element_id"] == "reminder"
    assert by_type[E.MESSAGE_RECEIVED].data["payload"] == {"change_ref": "A"}
    assert by_type[E.MESSAGE_RECEIVED].task_id is not None
    error = by_type[E.ERROR]
    assert (error.data["element_id"], error.data["line"], error.data["error_type"]) == (
        "divide", 1, "ZeroDivisionError")
    assert error.task_id is not None and by_type[E.RETRIED].task_id == error.task_id
    assert by_type[E.RETRIED].data["data"] == {"count": 2}
    assert by_type[E.SUSPENDED].data["reason"] == "freeze"
    assert by_type[E.CANCELLED].data["reason"] == "withdrawn"


def test_a_completed_instance_ends_its_trail_with_instance_completed(engine):
    deploy(engine, diagram(start_event() + user_task("only", "Only") + end_event() + flows("start", "only", "end"),
                           {"Practitioner": ["only"]}))
    instance = start(engine)

    engine.run(CompleteTask(open_task(engine, instance.id).id), actor="pat")

    assert [event.type for event in events(engine, instance.id)] == [E.STARTED, E.COMPLETED,
                                                                      E.INSTANCE_COMPLETED]


def test_deploys_are_audited_without_an_instance(engine, clock):
    deploy(engine, LIFE, actor="olivia")
    deploy(engine, LIFE, actor="olivia")  # identical: no new version, no new event

    with engine.database.snapshot() as session:
        rows = list(session.scalars(select(Event).where(Event.type == E.DEPLOYED)))
    assert [(row.actor, row.at, row.instance_id, row.data["version"]) for row in rows] == [
        ("olivia", clock.now(), None, 1)]


def test_commands_that_change_nothing_write_no_event(engine):
    deploy(engine, LIFE)
    instance = start(engine, data={"change_ref": "A"})
    review = instance.tasks[0].id
    engine.run(ClaimTask(review), actor="mia")
    before = len(events(engine, instance.id))

    engine.run(ClaimTask(review), actor="mia")
    engine.run(AssignTask(review, assignee="mia"), actor="mike")
    engine.run(ResumeInstance(instance.id), actor="mike")

    assert len(events(engine, instance.id)) == before


def test_a_refused_command_writes_no_event(engine):
    deploy(engine, LIFE)
    instance = start(engine, data={"change_ref": "A"})
    before = len(events(engine, instance.id))

    def refuse(_facts) -> None:
        raise PermissionError("no")

    for command in (ClaimTask(instance.tasks[0].id), SuspendInstance(instance.id)):
        with pytest.raises(PermissionError):
            engine.run(command, actor="eve", authorize=refuse)
    assert len(events(engine, instance.id)) == before
