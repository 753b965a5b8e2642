"""The external-task API: a worker fetches and locks by topic, then completes, fails or extends its lock."""

from __future__ import annotations

from datetime import timedelta

from tests.api import diagrams
from tests.api.support import assert_problem, row_counts, rows

FETCH = "/api/external-tasks/fetch-and-lock"
BUILD_TOPIC = [{"topic": "build", "lock_duration": 60_000}]


def started_build(http) -> dict:
    assert http.post("/api/process-models/build/versions", "change-owner",
                     {"bpmn": diagrams.BUILD, "practice": "change"}).status_code == 201
    started = http.post("/api/instances", "change-practitioner", {"process": "build", "data": {"tag": "v1"}})
    assert started.status_code == 201
    return started.get_json()


def test_a_worker_fetches_locks_and_completes_a_build(http, app):
    instance = started_build(http)
    assert instance["status"] == "waiting" and instance["tasks"] == []
    assert instance["waiting_for"] == [{"kind": "external_task", "element_id": "build", "topic": "build"}]

    fetched = http.post(FETCH, "change-practitioner", {"worker_id": "ci-1", "max_tasks": 5, "topics": BUILD_TOPIC})
    [task] = fetched.get_json()
    assert fetched.status_code == 200
    assert (task["topic"], task["element_id"], task["worker_id"], task["variables"]) == ("build", "build", "ci-1",
                                                                                       {"tag": "v1"})
    assert http.post(FETCH, "change-practitioner", {"worker_id": "ci-2", "topics": BUILD_TOPIC}).get_json() == []

    done = http.post(f"/api/external-tasks/{task['id']}/complete", "change-practitioner",
                     {"worker_id": "ci-1", "variables": {"artifact": "app-v1.tar.gz"}})

    assert done.status_code == 200 and done.get_json()["instance"]["status"] == "completed"
    body = http.get(f"/api/instances/{instance['id']}", "change-manager").get_json()
    assert body["data"] == {"tag": "v1", "artifact": "app-v1.tar.gz"}
    assert [row["status"] for row in rows(app, "external_task")["external_task"]] == ["completed"]


def test_another_workers_task_is_a_conflict_and_changes_nothing(http, app):
    started_build(http)
    [task] = http.post(FETCH, "change-practitioner", {"worker_id": "ci-1", "topics": BUILD_TOPIC}).get_json()
    before = row_counts(app, "event", "external_task")

    answer = http.post(f"/api/external-tasks/{task['id']}/complete", "change-practitioner",
                       {"worker_id": "ci-2", "variables": {}})

    body = assert_problem(answer, 409, "conflict")
    assert "locked by the worker 'ci-1'" in body["detail"]
    assert row_counts(app, "event", "external_task") == before
    assert rows(app, "external_task")["external_task"][0]["status"] == "open"


def test_invalid_requests_are_problems_naming_the_field(http):
    started_build(http)
    [task] = http.post(FETCH, "change-practitioner", {"worker_id": "ci-1", "topics": BUILD_TOPIC}).get_json()

    no_topics = http.post(FETCH, "change-practitioner", {"worker_id": "ci-1", "topics": []})
    bad_name = http.post(f"/api/external-tasks/{task['id']}/complete", "change-practitioner",
                         {"worker_id": "ci-1", "variables": {"2fast": 1}})
    negative = http.post(f"/api/external-tasks/{task['id']}/failure", "change-practitioner",
                         {"worker_id": "ci-1", "error_message": "x", "retries": -1})
    missing = http.post("/api/external-tasks/nope/complete", "change-practitioner", {"worker_id": "ci-1"})

    assert "topics" in assert_problem(no_topics, 422, "validation-failed")["errors"]
    assert "variables.2fast" in assert_problem(bad_name, 422, "validation-failed")["errors"]
    assert "retries" in assert_problem(negative, 422, "validation-failed")["errors"]
    assert_problem(missing, 404, "not-found")


def test_failing_for_good_stops_the_instance_with_an_incident(http, app_engine, clock):
    instance = started_build(http)
    [task] = http.post(FETCH, "change-practitioner", {"worker_id": "ci-1", "topics": BUILD_TOPIC}).get_json()

    once = http.post(f"/api/external-tasks/{task['id']}/failure", "change-practitioner",
                     {"worker_id": "ci-1", "error_message": "flaky test", "retries": 1, "retry_timeout": 60_000})
    assert once.status_code == 200 and once.get_json()["retries"] == 1
    clock.advance(timedelta(minutes=1))
    [again] = http.post(FETCH, "change-practitioner", {"worker_id": "ci-2", "topics": BUILD_TOPIC}).get_json()
    final = http.post(f"/api/external-tasks/{again['id']}/failure", "change-practitioner",
                      {"worker_id": "ci-2", "error_message": "flaky test again", "retries": 0})

    assert final.status_code == 200 and final.get_json()["state"] == "failed"
    body = http.get(f"/api/instances/{instance['id']}", "change-manager").get_json()
    assert body["status"] == "error" and "flaky test again" in body["incident"]["message"]
