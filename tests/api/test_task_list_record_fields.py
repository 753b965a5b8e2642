"""GET /api/tasks: what each row shows of its record, the SLA state, sorting by due date, strict parameters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.support import assert_problem

pytestmark = pytest.mark.usefixtures("shipped")


def _accepted_change(http, clock, **overrides):
    """A normal change whose assessment is done: its authorization is open, due in 48 hours."""
    instance = http.start_change(clock, **overrides)
    http.complete(instance["tasks"][0]["id"], "change-manager", {"assessment_decision": "accept"})
    return instance


def test_each_task_carries_its_records_title_risk_window_and_sla_state(http, clock):
    instance = http.start_change(clock, title="Patch the relays", impact="high", likelihood="medium")

    [task] = http.get("/api/tasks", "change-manager").get_json()

    assert task["business_key"] == instance["business_key"]
    assert task["record_title"] == "Patch the relays"
    assert task["risk"] == "high"
    assert task["planned_start"] == instance["data"]["planned_start"]
    assert task["planned_end"] == instance["data"]["planned_end"]
    assert task["due_at"] is None and task["sla_state"] == "none"


def test_the_sla_state_follows_the_clock(http, clock):
    _accepted_change(http, clock)  # authorization due in 48 hours

    def state():
        [task] = http.get("/api/tasks?role=manager", "change-manager").get_json()
        return task["sla_state"]

    assert state() == "on_track"
    clock.advance(timedelta(hours=41))
    assert state() == "due_soon"
    clock.advance(timedelta(hours=8))
    assert state() == "overdue"


def test_sort_due_puts_the_soonest_due_first_and_undated_tasks_last(http, clock):
    undated = http.start_change(clock, title="Still to assess")["tasks"][0]["id"]
    clock.advance(timedelta(minutes=1))
    later = _accepted_change(http, clock, title="Later")
    clock.advance(timedelta(hours=1))
    sooner_by_creation = _accepted_change(http, clock, title="Sooner")  # due an hour after the first

    by_due = http.get("/api/tasks?sort=due", "change-manager").get_json()
    by_creation = http.get("/api/tasks", "change-manager").get_json()

    assert [t["record_title"] for t in by_due] == ["Later", "Sooner", "Still to assess"]
    assert by_due[-1]["id"] == undated
    assert by_due[0]["due_at"] < by_due[1]["due_at"]
    assert [t["record_title"] for t in by_creation] == ["Still to assess", "Later", "Sooner"]
    assert later["business_key"] != sooner_by_creation["business_key"]


def test_sort_due_pages_like_the_full_list(http, clock):
    for n in range(5):
        _accepted_change(http, clock, title=f"C{n}")
        clock.advance(timedelta(minutes=5))
    full = [t["id"] for t in http.get("/api/tasks?sort=due&per_page=50", "change-manager").get_json()]

    pages = [t["id"] for page in (1, 2, 3) for t in
             http.get(f"/api/tasks?sort=due&per_page=4&page={page}", "change-manager").get_json()]

    assert pages == full and len(full) == 5


@pytest.mark.parametrize("query", ["sort=priority", "colour=blue", "per_page=5&assigne=me"])
def test_an_unknown_or_invalid_parameter_is_a_422_naming_it(http, query):
    body = assert_problem(http.get(f"/api/tasks?{query}", "change-manager"), 422, "validation-failed")

    name = query.split("&")[-1].split("=")[0]
    assert name in body["errors"], body


@pytest.mark.parametrize("path", ["/api/instances?colour=blue", "/api/process-models?x=1", "/api/users?x=1",
                                  "/api/role-assignments?x=1", "/api/process-models/normal_change/versions?x=1"])
def test_every_list_refuses_unknown_parameters(http, path):
    body = assert_problem(http.get(path, "admin"), 422, "validation-failed")
    assert set(body["errors"]) == {path.rsplit("?", 1)[1].split("=")[0]}
