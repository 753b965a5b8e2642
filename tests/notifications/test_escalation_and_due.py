"""Escalation reaches people who can act (the managers and owners who are not late themselves), naming the task,
its holder and how late it is; tasks with a due time warn when due soon and when overdue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.support import Http
from tests.processes.samples import EMERGENCY_REQUEST


def notices(http: Http, user: str) -> list[dict[str, Any]]:
    response = http.get("/api/notifications", user)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def kinds(http: Http, user: str) -> list[str]:
    return [notice["kind"] for notice in notices(http, user)]


def test_an_overdue_authorization_escalates_to_the_owners_naming_task_holder_and_lateness(
        http, clock, shipped, app_engine, notifier):
    change = http.start_change(clock)
    http.complete(http.open_task(change["id"], "assess_change")["id"], "change-manager",
                  {"assessment_decision": "accept"})
    authorize = http.open_task(change["id"], "authorize_change")
    assert http.post(f"/api/tasks/{authorize['id']}/claim", "change-manager").status_code == 200
    notifier.run_pass()
    before = {user: len(notices(http, user)) for user in ("change-manager", "change-owner")}

    clock.advance(timedelta(hours=49))
    assert app_engine.fire_due_timers() == 1  # the 48 h boundary timer on authorize_change
    notifier.run_pass()

    owner_news = notices(http, "change-owner")[: len(notices(http, "change-owner")) - before["change-owner"]]
    [escalation] = [notice for notice in owner_news if notice["kind"] == "escalation"]
    assert escalation["subject"] == f"Escalation: {change['business_key']} 'Authorize change' is late (2 d 1 h open)"
    assert "change-manager holds it." in escalation["body"]
    assert "waited 2 d 1 h since it opened: 1 h past its due time (2026-01-07 09:00 UTC)" in escalation["body"]
    assert escalation["link"] == f"/tasks/{authorize['id']}"
    # The late manager is not told of their own lateness as an escalation.
    assert "escalation" not in kinds(http, "change-manager")


def test_a_task_with_a_due_time_warns_when_due_soon_then_when_overdue(http, clock, shipped, app_engine, notifier):
    response = http.post("/api/instances", "change-practitioner",
                         {"process": "emergency_change", "data": EMERGENCY_REQUEST})
    assert response.status_code == 201, response.get_json()
    notifier.run_pass()  # due in 2 h, within the 4 h "due soon" window: the warning comes at once
    assert kinds(http, "change-owner") == ["task.due_soon", "task.ready"]
    due_soon = notices(http, "change-owner")[0]
    assert "'Authorize emergency change'" in due_soon["subject"] and "Nobody has claimed it yet." in due_soon["body"]

    clock.advance(timedelta(hours=1, minutes=59))
    notifier.run_pass()
    assert kinds(http, "change-owner") == ["task.due_soon", "task.ready"]
    clock.advance(timedelta(minutes=2))
    notifier.run_pass()
    assert kinds(http, "change-owner") == ["task.overdue", "task.due_soon", "task.ready"]
    clock.advance(timedelta(days=1))
    notifier.run_pass()  # each warning once
    assert len(notices(http, "change-owner")) == 3


def test_no_overdue_warning_for_a_task_completed_in_time(http, clock, shipped, notifier):
    response = http.post("/api/instances", "change-practitioner",
                         {"process": "emergency_change", "data": EMERGENCY_REQUEST})
    task = response.get_json()["tasks"][0]
    http.complete(task["id"], "change-owner", {"authorization_decision": "authorize"})
    clock.advance(timedelta(hours=3))
    notifier.run_pass()
    assert "task.overdue" not in kinds(http, "change-owner")


def test_a_warning_that_falls_due_while_the_instance_is_suspended_comes_after_it_resumes(
        http, clock, shipped, notifier):
    response = http.post("/api/instances", "change-practitioner",
                         {"process": "emergency_change", "data": EMERGENCY_REQUEST})
    instance = response.get_json()
    suspended = http.post(f"/api/instances/{instance['id']}/suspend", "change-manager", {"reason": "vendor call"})
    assert suspended.status_code == 200, suspended.get_json()

    clock.advance(timedelta(hours=3))  # the task fell due 1 h ago, while nobody could work on it
    notifier.run_pass()
    notifier.run_pass()
    assert kinds(http, "change-owner") == ["task.ready"]  # held: neither due soon nor overdue is sent now

    assert http.post(f"/api/instances/{instance['id']}/resume", "change-manager").status_code == 200
    clock.advance(timedelta(minutes=5))  # a held alarm is looked at again within five minutes
    notifier.run_pass()
    # Overdue, once; the due-soon warning would come after the due time, and is dropped.
    assert kinds(http, "change-owner") == ["task.overdue", "task.ready"]
    clock.advance(timedelta(hours=1))
    notifier.run_pass()
    assert kinds(http, "change-owner") == ["task.overdue", "task.ready"]
