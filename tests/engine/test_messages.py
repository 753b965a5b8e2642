"""Messages: delivered to the one waiting instance whose correlation keys match, after checking the payload."""

from __future__ import annotations

import pytest

from engine import (
    Conflict,
    CorrelateMessage,
    EventType,
    InstanceStatus,
    InvalidInput,
    NotFound,
    SuspendInstance,
)
from tests.engine.builder import diagram, end_event, flows, script_task, start_event
from tests.engine.support import MESSAGES, deploy, events, instance_row, start

WAIT_FOR_APPROVAL = diagram(
    start_event()
    + '<bpmn:intermediateCatchEvent id="wait_approval" name="Wait for approval">'
      '<bpmn:messageEventDefinition id="wait_approval_def" messageRef="msg_approval">'
      "<bpmn:extensionElements><spiffworkflow:messageVariable>approval</spiffworkflow:messageVariable>"
      "</bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>\n"
    + script_task("record", "approved = approval['ok']") + end_event()
    + flows("start", "wait_approval", "record", "end"),
    before=MESSAGES,
)


@pytest.fixture
def waiting(engine):
    """Two instances waiting for 'approval', for changes A and B."""
    deploy(engine, WAIT_FOR_APPROVAL)
    return start(engine, data={"change_ref": "A"}), start(engine, data={"change_ref": "B"})


def snapshot(engine, instance_id):
    row = instance_row(engine, instance_id)
    return row.revision, row.state, row.status, dict(row.data), len(events(engine, instance_id))


def test_waiting_for_a_message_is_waiting(waiting):
    assert [instance.status for instance in waiting] == [InstanceStatus.WAITING] * 2


def test_a_message_is_delivered_to_the_instance_with_matching_keys(engine, waiting):
    a, b = waiting
    before_a = snapshot(engine, a.id)
    payload = {"change_ref": "B", "ok": True, "by": "cab"}

    delivered = engine.run(CorrelateMessage("approval", {"change_ref": "B"}, payload), actor="gateway")

    assert delivered.id == b.id and delivered.status is InstanceStatus.COMPLETED
    assert delivered.data == {"change_ref": "B", "approval": payload, "approved": True}
    assert snapshot(engine, a.id) == before_a
    [received] = [event for event in events(engine, b.id) if event.type is EventType.MESSAGE_RECEIVED]
    assert received.actor == "gateway"
    assert received.data["message"] == "approval" and received.data["payload"] == payload
    assert received.data["correlation_keys"] == {"change_ref": "B"}
    assert received.data["element_id"] == "wait_approval"


def test_the_business_key_always_correlates(engine, waiting):
    a, _b = waiting

    delivered = engine.run(CorrelateMessage("approval", {"business_key": a.business_key},
                                            {"change_ref": "A", "ok": False}), actor="gateway")

    assert delivered.id == a.id and delivered.data["approved"] is False


def test_a_payload_without_the_correlation_property_is_invalid_and_changes_nothing(engine, waiting):
    _a, b = waiting
    before = snapshot(engine, b.id)

    with pytest.raises(InvalidInput) as caught:
        engine.run(CorrelateMessage("approval", {"change_ref": "B"}, {"ok": True}), actor="gateway")

    assert "change_ref" in caught.value.errors["payload"][0]
    assert snapshot(engine, b.id) == before
    # The instance still waits and takes a correct message afterwards.
    done = engine.run(CorrelateMessage("approval", {"change_ref": "B"}, {"change_ref": "B", "ok": True}),
                      actor="gateway")
    assert done.status is InstanceStatus.COMPLETED


def test_a_payload_that_contradicts_the_keys_is_invalid(engine, waiting):
    _a, b = waiting
    before = snapshot(engine, b.id)

    with pytest.raises(InvalidInput) as caught:
        engine.run(CorrelateMessage("approval", {"change_ref": "B"}, {"change_ref": "A", "ok": True}),
                   actor="gateway")

    assert "correlation_keys" in caught.value.errors
    assert snapshot(engine, b.id) == before


def test_a_message_to_the_wrong_correlation_key_is_not_found_and_nothing_changes(engine, waiting):
    before = [snapshot(engine, instance.id) for instance in waiting]

    with pytest.raises(NotFound, match="approval"):
        engine.run(CorrelateMessage("approval", {"change_ref": "Z"}, {"change_ref": "Z", "ok": True}),
                   actor="gateway")

    assert [snapshot(engine, instance.id) for instance in waiting] == before


def test_an_unknown_message_name_is_not_found(engine, waiting):
    with pytest.raises(NotFound):
        engine.run(CorrelateMessage("rejection", {"change_ref": "A"}, {"change_ref": "A"}), actor="gateway")


def test_a_message_that_several_instances_wait_for_is_a_conflict(engine, waiting):
    twin = start(engine, data={"change_ref": "A"})
    before = [snapshot(engine, instance.id) for instance in (*waiting, twin)]

    with pytest.raises(Conflict) as caught:
        engine.run(CorrelateMessage("approval", {"change_ref": "A"}, {"change_ref": "A", "ok": True}),
                   actor="gateway")

    assert sorted(caught.value.context["instances"]) == [waiting[0].business_key, twin.business_key]
    assert [snapshot(engine, instance.id) for instance in (*waiting, twin)] == before


def test_a_suspended_instance_does_not_take_messages(engine, waiting):
    a, _b = waiting
    engine.run(SuspendInstance(a.id), actor="mike")

    with pytest.raises(NotFound):
        engine.run(CorrelateMessage("approval", {"change_ref": "A"}, {"change_ref": "A", "ok": True}),
                   actor="gateway")


def test_a_delivered_message_is_not_delivered_twice(engine, waiting):
    message = CorrelateMessage("approval", {"change_ref": "A"}, {"change_ref": "A", "ok": True})
    engine.run(message, actor="gateway")

    with pytest.raises(NotFound):
        engine.run(message, actor="gateway")


def test_an_instance_whose_correlation_value_is_not_set_yet_is_reached_by_business_key_only(engine):
    deploy(engine, WAIT_FOR_APPROVAL)
    instance = start(engine)  # no change_ref: the retrieval expression has nothing to read yet
    assert instance.status is InstanceStatus.WAITING

    with pytest.raises(NotFound):
        engine.run(CorrelateMessage("approval", {"change_ref": "A"}, {"change_ref": "A", "ok": True}), actor="gw")
    payload = {"change_ref": "A", "ok": False}  # the payload still carries the correlation property
    delivered = engine.run(CorrelateMessage("approval", {"business_key": instance.business_key}, payload),
                           actor="gw")

    assert delivered.id == instance.id and delivered.status is InstanceStatus.COMPLETED
    assert delivered.data == {"approval": payload, "approved": False}
