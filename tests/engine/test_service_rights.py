"""Service tasks act with the rights of the instance that calls them (issue 9, finding 9).

The audit trail of a release was forged from the change practice: a change-practice diagram called
``record_release_outcome`` with a release's business key (and a caller-chosen ``release``). Services now
reach the caller's own practice and the practices it is linked to (release -> change), nothing else.
"""

from __future__ import annotations

from engine import EventType, InstanceStatus
from tests.engine.builder import diagram, end_event, flows, start_event
from tests.engine.support import deploy, events, start


def service_task(operator: str, **parameters: str) -> str:
    params = "".join(f'<spiffworkflow:parameter id="{name}" type="any" value="{value}"/>'
                     for name, value in parameters.items())
    return (f'<bpmn:serviceTask id="call"><bpmn:extensionElements>'
            f'<spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="result">'
            f"<spiffworkflow:parameters>{params}</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>"
            "</bpmn:extensionElements></bpmn:serviceTask>\n")


def caller(operator: str, **parameters: str) -> str:
    return diagram(start_event() + service_task(operator, **parameters) + end_event() + flows("start", "call", "end"))


def outcome_events(engine, instance_id):
    return [event for event in events(engine, instance_id) if event.type is EventType.RELEASE_OUTCOME]


def test_a_change_process_cannot_write_a_release_outcome_onto_a_release(engine):
    deploy(engine, caller("check_changes_authorized", change_keys="keys"), key="a_release", practice="release")
    release = start(engine, "a_release", {"keys": []})
    deploy(engine, caller("record_release_outcome", change_keys="keys", outcome="'failed'"), key="forger")

    forged = start(engine, "forger", {"keys": [release.business_key]})

    assert forged.status is InstanceStatus.COMPLETED, forged.incident
    assert forged.data["result"] == {"recorded": []}
    assert outcome_events(engine, release.id) == []


def test_a_release_cannot_claim_to_be_another_release(engine):
    deploy(engine, caller("check_changes_authorized", change_keys="keys"), key="change_proc")
    change = start(engine, "change_proc", {"keys": []})
    deploy(engine, caller("record_release_outcome", change_keys="keys", outcome="'failed'", release_key="other"),
           key="a_release", practice="release")

    release = start(engine, "a_release", {"keys": [change.business_key], "other": "REL-999999"})

    assert release.status is InstanceStatus.ERROR
    assert "must be the calling release's own key" in release.incident.message
    assert outcome_events(engine, change.id) == []


def test_a_release_records_its_own_outcome_on_the_changes_it_carries(engine):
    deploy(engine, caller("check_changes_authorized", change_keys="keys"), key="change_proc")
    change = start(engine, "change_proc", {"keys": []})
    deploy(engine, caller("record_release_outcome", change_keys="keys", outcome="'deployed'"),
           key="a_release", practice="release")

    release = start(engine, "a_release", {"keys": [change.business_key]})

    assert release.data["result"] == {"recorded": [change.business_key]}
    [event] = outcome_events(engine, change.id)
    assert event.data == {"source": release.business_key, "release": release.business_key, "outcome": "deployed"}


def test_a_change_process_cannot_read_a_release_through_a_service(engine):
    deploy(engine, caller("check_changes_authorized", change_keys="keys"), key="a_release", practice="release")
    release = start(engine, "a_release", {"keys": []})
    deploy(engine, caller("check_changes_authorized", change_keys="keys"), key="reader")

    reader = start(engine, "reader", {"keys": [release.business_key]})

    # Answered exactly as for a key that does not exist: the release's status does not leak.
    assert reader.data["result"]["changes"] == [
        {"business_key": release.business_key, "exists": False, "status": None, "authorized": False}]
