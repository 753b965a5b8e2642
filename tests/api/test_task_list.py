"""GET /api/tasks: by default what the caller can work on now; filters, scopes and pagination."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.api import diagrams
from tests.api.support import assert_problem

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.fixture
def board(http, clock, app_engine, deploy):
    """Three changes waiting for assessment, one waiting for implementation, and one review (process 'review').

    The clock moves between them, so that the list's order (oldest first) is the order they were made in.
    """
    assessments = []
    for n in range(3):
        assessments.append(http.start_change(clock, title=f"Change {n}")["tasks"][0])
        clock.advance(timedelta(minutes=1))
    implementation = http.change_at(clock, app_engine, "implement_change")
    clock.advance(timedelta(minutes=1))
    deploy("review", diagrams.REVIEW)
    response = http.post("/api/instances", "change-practitioner-2", {"process": "review"})
    [review] = response.get_json()["tasks"]
    return {"assessments": assessments, "implementation": implementation, "review": review}


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [task["id"] for task in response.get_json()]


def test_by_default_a_manager_sees_the_open_tasks_of_their_role(http, board):
    assert ids(http.get("/api/tasks", "change-manager")) == [task["id"] for task in board["assessments"]]


def test_by_default_a_practitioner_sees_the_practitioner_tasks(http, board):
    expected = [board["implementation"]["id"], board["review"]["id"]]
    assert ids(http.get("/api/tasks", "change-practitioner")) == expected


def test_by_default_tasks_held_by_someone_else_drop_off_and_mine_stay(http, board):
    implementation, review = board["implementation"]["id"], board["review"]["id"]
    http.post(f"/api/tasks/{implementation}/claim", "change-practitioner")

    assert ids(http.get("/api/tasks", "change-practitioner")) == [implementation, review]
    assert ids(http.get("/api/tasks", "change-practitioner-2")) == [review]


@pytest.mark.parametrize("user", ["nobody", "admin", "release-manager", "change-owner"])
def test_by_default_users_without_a_matching_role_see_nothing(http, board, user):
    response = http.get("/api/tasks", user)

    assert ids(response) == []
    assert json.loads(response.headers["X-Pagination"])["total"] == 0


def test_scope_all_shows_every_task_in_the_callers_practices(http, board):
    every = [task["id"] for task in board["assessments"]] + [board["implementation"]["id"], board["review"]["id"]]

    assert sorted(ids(http.get("/api/tasks?scope=all", "change-practitioner"))) == sorted(every)
    assert sorted(ids(http.get("/api/tasks?scope=all", "admin"))) == sorted(every)
    assert ids(http.get("/api/tasks?scope=all", "release-owner")) == []
    assert ids(http.get("/api/tasks?scope=all", "nobody")) == []


def test_filter_by_process(http, board):
    assert ids(http.get("/api/tasks?scope=all&process=review", "change-manager")) == [board["review"]["id"]]
    assert ids(http.get("/api/tasks?process=normal_change", "change-practitioner")) == [board["implementation"]["id"]]
    assert ids(http.get("/api/tasks?scope=all&process=release", "change-manager")) == []


def test_filter_by_instance(http, board):
    second = board["assessments"][1]

    assert ids(http.get(f"/api/tasks?instance={second['instance_id']}", "change-manager")) == [second["id"]]
    assert ids(http.get(f"/api/tasks?instance={second['instance_id']}", "change-practitioner")) == []


def test_filter_by_role(http, board):
    practitioner_tasks = [board["implementation"]["id"], board["review"]["id"]]

    assert ids(http.get("/api/tasks?scope=all&role=practitioner", "change-manager")) == practitioner_tasks
    assert len(ids(http.get("/api/tasks?scope=all&role=manager", "change-practitioner"))) == 3
    assert ids(http.get("/api/tasks?scope=all&role=owner", "change-manager")) == []


def test_filter_by_assignee(http, board):
    first, second, _third = (task["id"] for task in board["assessments"])
    http.post(f"/api/tasks/{first}/claim", "change-manager")
    http.post(f"/api/tasks/{board['review']['id']}/claim", "change-practitioner-2")

    assert ids(http.get("/api/tasks?assignee=me", "change-manager")) == [first]
    assert ids(http.get("/api/tasks?assignee=none", "change-manager")) == [second, _third]
    assert ids(http.get("/api/tasks?scope=all&assignee=change-practitioner-2", "change-manager")) == [
        board["review"]["id"]]
    assert ids(http.get("/api/tasks?scope=all&assignee=nobody-at-all", "change-manager")) == []


def test_filter_by_state_needs_scope_all_for_finished_tasks(http, board):
    first = board["assessments"][0]
    http.complete(first["id"], "change-manager", {"assessment_decision": "reject", "assessment_notes": "No."})

    completed = http.get("/api/tasks?scope=all&state=completed", "change-practitioner").get_json()
    actionable = http.get("/api/tasks?state=completed", "change-manager")

    assert first["id"] in [task["id"] for task in completed]
    assert {task["state"] for task in completed} == {"completed"}
    # Only open tasks can be worked on, so the default scope lists none in another state. (It was a 422,
    # which the OpenAPI document could not state: issue 9, finding 15.)
    assert actionable.status_code == 200 and actionable.get_json() == []
    assert json.loads(actionable.headers["X-Pagination"])["total"] == 0
    assert first["id"] not in ids(http.get("/api/tasks?scope=all&state=open", "change-manager"))


@pytest.mark.parametrize("query, field", [
    ("scope=everything", "scope"), ("state=done", "state"), ("role=admin", "role"), ("role=board", "role"),
    ("instance=abc", "instance"), ("instance=0", "instance"), ("instance=2147483648", "instance"),
    ("page=0", "page"), ("page=abc", "page"), ("per_page=0", "per_page"), ("per_page=201", "per_page"),
    ("page=99999999999999999999", "page"),
])
def test_invalid_filters_are_422_on_their_field(http, board, query, field):
    response = http.get(f"/api/tasks?{query}", "change-manager")

    assert field in assert_problem(response, 422, "validation-failed")["errors"]


def test_pagination_with_the_x_pagination_header(http, board):
    first = http.get("/api/tasks?per_page=2", "change-manager")
    second = http.get("/api/tasks?per_page=2&page=2", "change-manager")
    beyond = http.get("/api/tasks?per_page=2&page=3", "change-manager")

    assessments = [task["id"] for task in board["assessments"]]
    assert ids(first) == assessments[:2] and ids(second) == assessments[2:] and ids(beyond) == []
    assert json.loads(first.headers["X-Pagination"]) == {
        "total": 3, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 1, "next_page": 2}
    assert json.loads(second.headers["X-Pagination"]) == {
        "total": 3, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 2, "previous_page": 1}
    assert json.loads(beyond.headers["X-Pagination"])["total"] == 3


def test_a_huge_page_number_is_an_empty_page(http, board):
    response = http.get("/api/tasks?page=10000000", "change-manager")

    assert ids(response) == [] and json.loads(response.headers["X-Pagination"])["total"] == 3
