"""Process instances over HTTP: start, read, list, the audit trail, and the lifecycle (suspend to retry)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.api import diagrams
from tests.api.support import assert_problem, change_request, rows

pytestmark = pytest.mark.usefixtures("shipped")

INSTANCE_FIELDS = {"id", "business_key", "process", "version", "status", "data", "tasks", "started_by", "started_at",
                   "ended_at"}
EVENT_FIELDS = {"id", "at", "actor", "type", "instance_id", "task_id", "data"}


# -- starting -------------------------------------------------------------------------------------------


def test_start_answers_201_with_the_instance_and_its_open_tasks(app, http, clock):
    data = change_request(clock)

    response = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": data})

    assert response.status_code == 201
    body = response.get_json()
    assert INSTANCE_FIELDS <= body.keys()
    assert (body["business_key"], body["process"], body["version"]) == ("CHG-000001", "normal_change", 1)
    assert (body["status"], body["started_by"], body["ended_at"]) == ("running", "change-practitioner", None)
    assert body["started_at"] == clock.now().isoformat()
    assert body["data"]["risk"] == "low"  # the risk decision table ran
    assert {key: body["data"][key] for key in ("title", "impact", "category")} == {
        "title": data["title"], "impact": "low", "category": "application"}
    [task] = body["tasks"]
    assert (task["element_id"], task["role"], task["state"], task["instance_id"]) == (
        "assess_change", "manager", "open", body["id"])
    state = rows(app, "process_instance", "human_task", "event")
    [instance] = state["process_instance"]
    assert (instance["id"], instance["status"], instance["started_by"]) == (
        body["id"], "running", "change-practitioner")
    assert [row["id"] for row in state["human_task"]] == [task["id"]]
    assert [(event["type"], event["actor"]) for event in state["event"] if event["instance_id"] == body["id"]] == [
        ("started", "change-practitioner")]


def test_a_named_version_is_started(http, clock):
    response = http.post("/api/instances", "change-practitioner",
                         {"process": "normal_change", "version": 1, "data": change_request(clock)})

    assert response.status_code == 201 and response.get_json()["version"] == 1


@pytest.mark.parametrize("body, status, slug, fields", [
    ({"process": "no_such_process"}, 404, "not-found", None),
    ({"process": "normal_change", "version": 7}, 404, "not-found", None),
    ({"process": "normal_change", "data": {}}, 422, "validation-failed", {
        "title", "description", "affected_service", "category", "impact", "likelihood", "planned_start",
        "planned_end", "implementation_plan", "backout_plan", "test_plan"}),
    ({"process": "normal_change", "data": "change"}, 422, "validation-failed", {"data"}),
    ({"version": 1}, 422, "validation-failed", {"process"}),
    ({"process": "normal_change", "version": 0}, 422, "validation-failed", {"version"}),
    ({"process": "normal_change", "owner": "me"}, 422, "validation-failed", {"owner"}),
])
def test_a_failed_start_answers_its_problem_and_changes_nothing(app, http, body, status, slug, fields):
    before = rows(app)

    response = http.post("/api/instances", "change-practitioner", body)

    problem = assert_problem(response, status, slug)
    if fields is not None:
        assert set(problem["errors"]) == fields
    assert rows(app) == before


def test_a_start_form_with_bad_values_is_422_per_field_and_changes_nothing(app, http, clock):
    data = change_request(clock, category="weather", impact="catastrophic", planned_end="2020-01-01T00:00:00Z",
                          surprise="field")
    before = rows(app)

    response = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": data})

    errors = assert_problem(response, 422, "validation-failed")["errors"]
    assert set(errors) == {"category", "impact", "planned_end", "surprise"}
    assert errors["surprise"] == ["Unknown field."]
    assert rows(app) == before


@pytest.mark.parametrize("user", ["change-manager", "change-owner", "admin", "release-practitioner", "nobody"])
def test_only_a_practitioner_of_the_practice_may_start_a_normal_change(app, http, clock, user):
    before = rows(app)

    response = http.post("/api/instances", user, {"process": "normal_change", "data": change_request(clock)})

    assert_problem(response, 403, "forbidden", detail="Only a practitioner of change may start 'normal_change'")
    assert rows(app) == before


# -- reading --------------------------------------------------------------------------------------------


def test_an_instance_shows_status_data_open_tasks_and_version(http, clock):
    started = http.start_change(clock)

    response = http.get(f"/api/instances/{started['id']}", "change-owner")

    assert response.status_code == 200
    assert response.get_json() == started


@pytest.mark.parametrize("path", ["/api/instances/999", "/api/instances/999/events"])
def test_an_unknown_instance_is_404(http, path):
    assert_problem(http.get(path, "change-manager"), 404, "not-found")


@pytest.mark.parametrize("path", ["/api/instances/{id}", "/api/instances/{id}/events"])
@pytest.mark.parametrize("user", ["release-manager", "nobody"])
def test_an_instance_of_another_practice_is_404(http, clock, path, user):
    started = http.start_change(clock)

    assert_problem(http.get(path.format(id=started["id"]), user), 404, "not-found")


def test_the_list_filters_by_process_status_starter_and_business_key(http, clock, deploy):
    first = http.start_change(clock)
    second = http.start_change(clock, user="change-practitioner-2")
    deploy("review", diagrams.REVIEW)
    review = http.post("/api/instances", "change-practitioner", {"process": "review"}).get_json()
    http.post(f"/api/instances/{second['id']}/cancel", "change-manager")

    def listed(query):
        response = http.get(f"/api/instances?{query}", "change-manager")
        assert response.status_code == 200, response.get_json()
        return [instance["id"] for instance in response.get_json()]

    assert listed("") == [review["id"], second["id"], first["id"]]  # newest first
    assert listed("process=normal_change") == [second["id"], first["id"]]
    assert listed("status=cancelled") == [second["id"]]
    assert listed("status=running") == [review["id"], first["id"]]
    assert listed("started_by=change-practitioner") == [review["id"], first["id"]]
    assert listed(f"business_key={first['business_key']}") == [first["id"]]
    assert listed("process=normal_change&status=running&started_by=change-practitioner") == [first["id"]]
    assert listed("business_key=CHG-999999") == []


def test_the_list_shows_only_the_callers_practices(http, clock):
    http.start_change(clock)

    assert len(http.get("/api/instances", "admin").get_json()) == 1
    assert http.get("/api/instances", "release-owner").get_json() == []
    assert http.get("/api/instances", "nobody").get_json() == []


def test_the_list_is_paginated(http, clock):
    started = [http.start_change(clock)["id"] for _ in range(3)]

    page = http.get("/api/instances?per_page=2&page=2", "change-manager")

    assert [instance["id"] for instance in page.get_json()] == [started[0]]
    assert json.loads(page.headers["X-Pagination"]) == {
        "total": 3, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 2, "previous_page": 1}


@pytest.mark.parametrize("query, field", [
    ("status=sleeping", "status"), ("per_page=1000", "per_page"), ("page=-1", "page"),
])
def test_invalid_list_filters_are_422(http, query, field):
    assert field in assert_problem(http.get(f"/api/instances?{query}", "change-manager"), 422)["errors"]


def test_the_audit_trail_says_who_did_what_when(http, clock):
    started = http.start_change(clock)
    clock.advance(timedelta(hours=1))
    task = started["tasks"][0]
    http.post(f"/api/tasks/{task['id']}/claim", "change-manager")
    http.complete(task["id"], "change-manager", {"assessment_decision": "accept"})

    response = http.get(f"/api/instances/{started['id']}/events", "change-practitioner")

    assert response.status_code == 200
    events = response.get_json()
    assert all(event.keys() >= EVENT_FIELDS for event in events)
    assert [(event["type"], event["actor"], event["task_id"]) for event in events] == [
        ("started", "change-practitioner", None),
        ("claimed", "change-manager", task["id"]),
        ("completed", "change-manager", task["id"]),
    ]
    assert events[0]["at"] == started["started_at"]
    assert events[2]["at"] == clock.now().isoformat()
    assert events[2]["data"]["data"]["assessment_decision"] == "accept"
    assert {event["instance_id"] for event in events} == {started["id"]}
    assert json.loads(response.headers["X-Pagination"])["total"] == 3


# -- lifecycle ------------------------------------------------------------------------------------------


def test_suspend_holds_the_tasks_and_resume_releases_them(app, http, clock):
    started = http.start_change(clock)
    task_id = started["tasks"][0]["id"]

    suspended = http.post(f"/api/instances/{started['id']}/suspend", "change-manager", {"reason": "change freeze"})

    assert suspended.status_code == 200
    assert suspended.get_json()["status"] == "suspended"
    assert [task["state"] for task in suspended.get_json()["tasks"]] == ["suspended"]
    assert http.get("/api/tasks", "change-manager").get_json() == []
    before = rows(app)
    refused = http.post(f"/api/tasks/{task_id}/complete", "change-manager", {"data": {"assessment_decision": "accept"}})
    assert_problem(refused, 409, "conflict", detail="is suspended")
    assert rows(app) == before

    resumed = http.post(f"/api/instances/{started['id']}/resume", "change-owner")

    assert resumed.status_code == 200 and resumed.get_json()["status"] == "running"
    assert [task["id"] for task in http.get("/api/tasks", "change-manager").get_json()] == [task_id]
    trail = rows(app, "event")["event"]
    assert [(e["type"], e["actor"]) for e in trail if e["type"] in ("suspended", "resumed")] == [
        ("suspended", "change-manager"), ("resumed", "change-owner")]
    assert [e["data"]["reason"] for e in trail if e["type"] == "suspended"] == ["change freeze"]


def test_cancel_ends_the_instance_and_withdraws_its_tasks(app, http, clock):
    started = http.start_change(clock)
    task_id = started["tasks"][0]["id"]

    response = http.post(f"/api/instances/{started['id']}/cancel", "admin", {"reason": "duplicate"})

    body = response.get_json()
    assert response.status_code == 200
    assert (body["status"], body["tasks"], body["ended_at"]) == ("cancelled", [], clock.now().isoformat())
    [row] = rows(app, "human_task")["human_task"]
    assert (row["id"], row["status"]) == (task_id, "cancelled")
    again = http.post(f"/api/instances/{started['id']}/cancel", "change-manager")
    assert again.status_code == 200 and again.get_json()["status"] == "cancelled"
    before = rows(app)
    assert_problem(http.post(f"/api/instances/{started['id']}/suspend", "change-manager"), 409, "conflict")
    assert_problem(http.post(f"/api/tasks/{task_id}/complete", "change-manager",
                             {"data": {"assessment_decision": "accept"}}), 409, "conflict")
    assert rows(app) == before


@pytest.mark.parametrize("action", ["suspend", "resume", "cancel", "retry"])
def test_a_practitioner_may_not_manage_an_instance(app, http, clock, action):
    started = http.start_change(clock)
    before = rows(app)

    response = http.post(f"/api/instances/{started['id']}/{action}", "change-practitioner")

    assert_problem(response, 403, "forbidden", detail="Only a manager or owner of change")
    assert rows(app) == before


def test_a_lifecycle_reason_that_is_too_long_is_422(http, clock):
    started = http.start_change(clock)

    response = http.post(f"/api/instances/{started['id']}/suspend", "change-manager", {"reason": "x" * 2001})

    assert set(assert_problem(response, 422)["errors"]) == {"reason"}


def test_retry_reruns_the_failed_step_with_corrected_data(app, http, deploy):
    deploy("divide", diagrams.DIVIDE)
    started = http.post("/api/instances", "change-manager", {"process": "divide", "data": {"divisor": 0}}).get_json()
    assert started["status"] == "error"
    assert (started["incident"]["element_id"], started["incident"]["error_type"]) == ("divide", "ZeroDivisionError")

    response = http.post(f"/api/instances/{started['id']}/retry", "change-manager", {"data": {"divisor": 4}})

    body = response.get_json()
    assert response.status_code == 200
    assert (body["status"], body["incident"], body["data"]) == ("completed", None, {"divisor": 4, "share": 25.0})
    [incident] = rows(app, "incident")["incident"]
    assert incident["resolved_by"] == "change-manager"
    [retried] = [e for e in rows(app, "event")["event"] if e["type"] == "retried"]
    assert retried["actor"] == "change-manager" and retried["data"]["data"] == {"divisor": 4}


IMPLEMENT_THEN_DIVIDE = diagrams.document("implement_process", (
    '<bpmn:startEvent id="start"/>\n'
    '<bpmn:userTask id="implement" name="Implement"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="formKey" value="change/implementation"/></spiffworkflow:properties>'
    "<spiffworkflow:postScript>share = 100 / divisor</spiffworkflow:postScript>"
    "</bpmn:extensionElements></bpmn:userTask>\n"
    '<bpmn:endEvent id="end"/>\n'
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="implement"/>\n'
    '<bpmn:sequenceFlow id="f2" sourceRef="implement" targetRef="end"/>\n'
), lanes=('<bpmn:laneSet id="lanes"><bpmn:lane id="lane_p" name="Practitioner">'
          "<bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>implement</bpmn:flowNodeRef>"
          "<bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>\n"))


def test_a_retry_cannot_change_a_persons_answer_without_their_right_or_their_form(app, http, deploy):
    """Retry data went into the failed task unchecked: a manager could rewrite a practitioner's answer, or
    set what a form decides on a script's retry (issue 9, finding 18)."""
    deploy("implement", IMPLEMENT_THEN_DIVIDE)
    started = http.post("/api/instances", "change-practitioner",
                        {"process": "implement", "data": {"divisor": 0}}).get_json()
    task = started["tasks"][0]["id"]
    failed = http.post(f"/api/tasks/{task}/complete", "change-practitioner",
                       {"data": {"implementation_outcome": "successful"}}).get_json()
    assert failed["instance"]["status"] == "error"
    retry = f"/api/instances/{started['id']}/retry"
    before = rows(app)

    assert_problem(http.post(retry, "change-manager", {"data": {"implementation_outcome": "failed"}}), 403,
                   "forbidden", detail="Only a practitioner of change may complete 'Implement'")
    assert_problem(http.post(retry, "change-manager", {"data": {"divisor": 4}}), 403, "forbidden")
    assert rows(app) == before

    # Without corrections the manager may retry: the submission stays the practitioner's.
    again = http.post(retry, "change-manager", {})
    assert again.status_code == 200 and again.get_json()["status"] == "error"
    assert again.get_json()["data"]["implementation_outcome"] == "successful"


def test_retrying_an_instance_without_an_incident_is_409_and_changes_nothing(app, http, clock):
    started = http.start_change(clock)
    before = rows(app)

    response = http.post(f"/api/instances/{started['id']}/retry", "change-manager", {"data": {}})

    assert_problem(response, 409, "conflict", detail="this needs it to be error")
    assert rows(app) == before


@pytest.mark.parametrize("action", ["suspend", "resume", "cancel", "retry"])
def test_managing_an_unknown_instance_is_404(http, action):
    assert_problem(http.post(f"/api/instances/4242/{action}", "change-manager"), 404, "not-found")
