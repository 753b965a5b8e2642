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

    assert_problem(response, 404, "not-found", detail="No instance you may see is waiting for the message 'approval'")
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


# -- what a message tells a sender about other practices (issue 9, finding 8) ----------------------------


@pytest.fixture
def both_practices(http, deploy, waiting):
    """Besides the change instances A and B, a release-practice instance waiting for 'approval' with A."""
    deploy("release_wait", diagrams.WAIT_FOR_APPROVAL, practice="release", user="release-owner")
    response = http.post("/api/instances", "release-manager", {"process": "release_wait",
                                                               "data": {"change_ref": "A"}})
    assert response.status_code == 201 and response.get_json()["business_key"].startswith("REL-")
    return response.get_json()


def test_a_conflict_lists_only_instances_the_sender_may_see(app, http, both_practices):
    before = rows(app)
    message = {"name": "approval", "correlation_keys": {"change_ref": "A"}, "payload": {"change_ref": "A", "ok": 1}}

    admin = assert_problem(http.post("/api/messages", "admin", message), 409, "conflict")
    assert sorted(key[:3] for key in admin["context"]["instances"]) == ["CHG", "REL"]
    # A change practitioner sees one waiting instance, so the message goes to it: never a list with REL-.
    delivered = http.post("/api/messages", "change-practitioner", message)
    assert delivered.status_code == 200 and delivered.get_json()["business_key"].startswith("CHG-")
    assert http.get(f"/api/instances/{both_practices['id']}", "release-manager").get_json()["status"] == "waiting"
    assert "REL-" not in delivered.get_data(as_text=True)
    new_events = rows(app)["event"][len(before["event"]):]
    assert [(e["type"], e["instance_id"]) for e in new_events] == [
        ("message_received", delivered.get_json()["id"]), ("instance_completed", delivered.get_json()["id"])]


@pytest.mark.parametrize("user", ["nobody", "release-practitioner"])
def test_a_sender_cannot_tell_whether_hidden_instances_or_values_exist(http, both_practices, waiting, user):
    """Hidden instance with a matching value, hidden instance by business key, and no instance at all: the
    same 404 text apart from the sender's own keys."""
    change = waiting[1]["business_key"] if user == "release-practitioner" else waiting[0]["business_key"]
    answers = [
        http.post("/api/messages", user, {"name": "approval", "correlation_keys": keys, "payload": {}})
        for keys in ({"business_key": change}, {"business_key": "CHG-999999"})
    ]
    details = [assert_problem(answer, 404, "not-found")["detail"] for answer in answers]
    assert details[0].replace(change, "KEY") == details[1].replace("CHG-999999", "KEY")
    hidden, absent = (
        http.post("/api/messages", user, {"name": "approval", "correlation_keys": {"change_ref": ref},
                                          "payload": {}}) for ref in ("B", "Z"))
    assert assert_problem(hidden, 404)["detail"].replace("'B'", "'?'") == \
        assert_problem(absent, 404)["detail"].replace("'Z'", "'?'")
    assert "context" not in hidden.get_json()
