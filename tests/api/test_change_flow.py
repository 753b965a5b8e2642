"""The shipped normal change over HTTP in-process, step by step, with the right person at each step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.support import assert_problem, rows

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_low_risk_change_from_request_to_closure(app, http, clock, app_engine):
    instance = http.start_change(clock)
    instance_id = instance["id"]

    assessed = http.complete(instance["tasks"][0]["id"], "change-manager", {"assessment_decision": "accept"})
    [authorize] = assessed["next_tasks"]
    assert (authorize["element_id"], authorize["role"]) == ("authorize_change", "manager")
    assert authorize["due_at"] == (clock.now() + timedelta(hours=48)).isoformat()  # the overdue timer
    authorized = http.complete(authorize["id"], "change-manager", {"authorization_decision": "authorize"})
    assert authorized == {"instance": {"id": instance_id, "business_key": instance["business_key"],
                                       "status": "waiting"}, "next_tasks": []}
    waiting = http.get(f"/api/instances/{instance_id}", "change-practitioner").get_json()
    assert waiting["next_timer_at"] == instance["data"]["planned_start"].replace("Z", "+00:00")

    clock.advance(timedelta(days=1, hours=1))
    assert app_engine.fire_due_timers() == 1

    implement = http.open_task(instance_id, "implement_change")
    implemented = http.complete(implement["id"], "change-practitioner", {"implementation_outcome": "successful"})
    [close] = implemented["next_tasks"]
    assert close["element_id"] == "close_change"
    closed = http.complete(close["id"], "change-manager", {"closure_code": "successful"})

    assert closed["instance"]["status"] == "completed" and closed["next_tasks"] == []
    final = http.get(f"/api/instances/{instance_id}", "change-owner").get_json()
    assert final["status"] == "completed" and final["ended_at"] == clock.now().isoformat()
    assert {final["data"][key] for key in ("assessment_decision", "authorization_decision", "authorized",
                                           "implementation_outcome", "closure_code")} == {
        "accept", "authorize", True, "successful"}
    tasks = rows(app, "human_task")["human_task"]
    assert {(t["element_id"], t["status"], t["completed_by"]) for t in tasks} == {
        ("assess_change", "completed", "change-manager"),
        ("authorize_change", "completed", "change-manager"),
        ("implement_change", "completed", "change-practitioner"),
        ("close_change", "completed", "change-manager")}


def test_a_high_risk_change_is_authorized_by_the_owner_not_the_manager(app, http, clock):
    instance = http.start_change(clock, impact="high", likelihood="high")
    assert instance["data"]["risk"] == "high"
    assessed = http.complete(instance["tasks"][0]["id"], "change-manager", {"assessment_decision": "accept"})
    [authorize] = assessed["next_tasks"]
    assert (authorize["element_id"], authorize["role"]) == ("authorize_high_risk_change", "owner")
    before = rows(app)

    refused = http.post(f"/api/tasks/{authorize['id']}/complete", "change-manager",
                        {"data": {"authorization_decision": "authorize"}})

    assert_problem(refused, 403, "forbidden",
                   detail="Only an owner of change may complete 'Authorize high-risk change'")
    assert rows(app) == before
    assert [task["id"] for task in http.get("/api/tasks", "change-owner").get_json()] == [authorize["id"]]
    authorized = http.complete(authorize["id"], "change-owner", {"authorization_decision": "authorize"})
    assert authorized["instance"]["status"] == "waiting"


def test_a_change_sent_back_for_rework_goes_to_its_requester(http, clock):
    instance = http.start_change(clock, user="change-practitioner-2")

    reworked = http.complete(instance["tasks"][0]["id"], "change-manager",
                             {"assessment_decision": "rework", "assessment_notes": "Add a test plan."})

    [rework] = reworked["next_tasks"]
    assert (rework["element_id"], rework["assignee"]) == ("rework_request_for_change", "change-practitioner-2")
    assert [task["id"] for task in http.get("/api/tasks", "change-practitioner-2").get_json()] == [rework["id"]]
    assert http.get("/api/tasks", "change-practitioner").get_json() == []
