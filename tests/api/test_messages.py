"""POST /api/messages: a message reaches the one instance waiting for it with matching correlation keys."""

from __future__ import annotations

import pytest

from tests.api import diagrams
from tests.api.support import assert_problem, rows


@pytest.fixture
def waiting(http, deploy):
    """Two instances of 'wait_for_approval' waiting for 'approval', for changes A and B."""
    deploy("wait_for_approval", diagrams.WAIT_FOR_APPROVAL)
    started = [http.post("/api/instances", "change-manager", {"process": "wait_for_approval",
                                                              "data": {"change_ref": ref}}) for ref in "AB"]
    assert [response.status_code for response in started] == [201, 201]
    assert [response.get_json()["status"] for response in started] == ["waiting", "waiting"]
    return [response.get_json() for response in started]


def test_a_message_moves_on_the_instance_whose_keys_match_and_no_other(app, http, waiting):
    a, b = waiting
    payload = {"change_ref": "B", "ok": True}

    response = http.post("/api/messages", "change-practitioner",
                         {"name": "approval", "correlation_keys": {"change_ref": "B"}, "payload": payload})

    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["status"]) == (b["id"], "completed")
    assert body["data"] == {"change_ref": "B", "approval": payload, "approved": True}
    assert http.get(f"/api/instances/{a['id']}", "change-manager").get_json()["status"] == "waiting"
    [received] = [event for event in rows(app, "event")["event"] if event["type"] == "message_received"]
    assert (received["instance_id"], received["actor"]) == (b["id"], "change-practitioner")
    assert received["data"]["payload"] == payload and received["data"]["message"] == "approval"


def test_the_business_key_always_correlates(http, waiting):
    a, _b = waiting

    response = http.post("/api/messages", "change-owner", {
        "name": "approval", "correlation_keys": {"business_key": a["business_key"]},
        "payload": {"change_ref": "A", "ok": False}})

    assert response.status_code == 200
    assert (response.get_json()["id"], response.get_json()["data"]["approved"]) == (a["id"], False)


def test_a_message_nobody_waits_for_is_404_and_changes_nothing(app, http, waiting):
    before = rows(app)

    response = http.post("/api/messages", "change-manager",
                         {"name": "approval", "correlation_keys": {"change_ref": "C"}, "payload": {}})

    assert_problem(response, 404, "not-found", detail="No instance is waiting for the message 'approval'")
    assert rows(app) == before


def test_a_message_several_instances_wait_for_is_409_and_changes_nothing(app, http, waiting, deploy):
    http.post("/api/instances", "change-manager", {"process": "wait_for_approval", "data": {"change_ref": "A"}})
    before = rows(app)

    response = http.post("/api/messages", "change-manager",
                         {"name": "approval", "correlation_keys": {"change_ref": "A"}, "payload": {"change_ref": "A"}})

    body = assert_problem(response, 409, "conflict", detail="Several instances wait")
    assert len(body["context"]["instances"]) == 2
    assert rows(app) == before


def test_a_payload_that_does_not_fit_the_event_is_422_and_changes_nothing(app, http, waiting):
    before = rows(app)

    response = http.post("/api/messages", "change-manager",
                         {"name": "approval", "correlation_keys": {"change_ref": "A"}, "payload": {"ok": True}})

    assert set(assert_problem(response, 422, "validation-failed")["errors"]) == {"payload"}
    assert rows(app) == before


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "approval", "correlation_keys": {"change_ref": ["A", "B"]}}, "correlation_keys"),
    ({"name": "approval", "correlation_keys": "A"}, "correlation_keys"),
    ({"name": "approval", "payload": [1]}, "payload"),
    ({"name": "approval", "priority": "high"}, "priority"),
])
def test_a_malformed_message_is_422(app, http, waiting, body, field):
    before = rows(app)

    assert field in assert_problem(http.post("/api/messages", "change-manager", body), 422)["errors"]
    assert rows(app) == before


@pytest.mark.parametrize("user", ["release-manager", "nobody"])
def test_a_message_for_an_instance_of_another_practice_is_404(app, http, waiting, user):
    before = rows(app)

    response = http.post("/api/messages", user, {"name": "approval", "correlation_keys": {"change_ref": "A"},
                                                 "payload": {"change_ref": "A", "ok": True}})

    assert_problem(response, 404, "not-found")
    assert rows(app) == before
