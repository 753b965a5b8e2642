"""Human tasks over HTTP: a task with its form, claiming, assigning, completing, and separation of duties."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from tests.api.support import assert_problem, rows

pytestmark = pytest.mark.usefixtures("shipped")

TASK_FIELDS = {"id", "instance_id", "business_key", "element_id", "title", "role", "practice", "state", "assignee",
               "due_at", "form_key"}
ASSESSMENT_FIELDS = {"assessment_decision", "assessment_notes"}


@pytest.fixture
def assess(http, clock):
    """The open 'Assess change' task of a freshly requested normal change."""
    instance = http.start_change(clock)
    [task] = instance["tasks"]
    return task


# -- reading a task -------------------------------------------------------------------------------------


def test_a_task_comes_with_its_form_as_json_schema_and_the_data_it_shows(http, assess):
    response = http.get(f"/api/tasks/{assess['id']}", "change-manager")

    assert response.status_code == 200
    body = response.get_json()
    assert TASK_FIELDS <= body.keys()
    assert body["element_id"] == "assess_change" and body["role"] == "manager" and body["state"] == "open"
    assert body["form"]["key"] == body["form_key"] == "change/assessment"
    schema = body["form"]["schema"]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == ASSESSMENT_FIELDS
    assert schema["additionalProperties"] is False and schema["required"] == ["assessment_decision"]
    assert schema["properties"]["assessment_decision"]["enum"] == ["accept", "rework", "reject"]
    instance = http.get(f"/api/instances/{assess['instance_id']}", "change-manager").get_json()
    assert body["data"] == instance["data"] and body["data"]["risk"] == "low"
    assert body["requester"] == "change-practitioner" and body["instance_status"] == "running"


@pytest.mark.parametrize("submission", [
    {"assessment_decision": "maybe"},
    {},
    {"assessment_decision": "reject"},  # notes are required when rejecting
    {"assessment_decision": "accept", "risk": "none"},
    {"assessment_decision": 1},
])
def test_the_published_schema_and_the_server_refuse_the_same_submissions(http, assess, submission):
    schema = http.get(f"/api/tasks/{assess['id']}", "change-manager").get_json()["form"]["schema"]
    assert list(Draft202012Validator(schema).iter_errors(submission)), "the schema should refuse it"

    response = http.post(f"/api/tasks/{assess['id']}/complete", "change-manager", {"data": submission})

    assert_problem(response, 422, "validation-failed")


def test_the_published_schema_accepts_what_the_server_accepts(http, assess):
    submission = {"assessment_decision": "rework", "assessment_notes": "Add a test plan for the reports."}
    schema = http.get(f"/api/tasks/{assess['id']}", "change-manager").get_json()["form"]["schema"]
    assert not list(Draft202012Validator(schema).iter_errors(submission))

    assert http.post(f"/api/tasks/{assess['id']}/complete", "change-manager", {"data": submission}).status_code == 200


def test_an_unknown_task_is_404(http):
    assert_problem(http.get("/api/tasks/no-such-task", "change-manager"), 404, "not-found")


def test_a_task_of_another_practice_is_404_as_if_it_did_not_exist(http, assess):
    assert_problem(http.get(f"/api/tasks/{assess['id']}", "release-manager"), 404, "not-found")
    assert_problem(http.get(f"/api/tasks/{assess['id']}", "nobody"), 404, "not-found")


# -- completing -----------------------------------------------------------------------------------------


def test_complete_answers_the_instance_and_its_next_tasks_and_records_who_did_it(app, http, assess, clock):
    response = http.post(f"/api/tasks/{assess['id']}/complete", "change-manager",
                         {"data": {"assessment_decision": "accept"}})

    assert response.status_code == 200
    body = response.get_json()
    assert body["instance"] == {"id": assess["instance_id"], "business_key": assess["business_key"],
                                "status": "running"}
    [next_task] = body["next_tasks"]
    assert TASK_FIELDS <= next_task.keys()
    assert next_task["element_id"] == "authorize_change" and next_task["state"] == "open"
    state = rows(app, "human_task", "event")
    [done] = [row for row in state["human_task"] if row["id"] == assess["id"]]
    assert (done["status"], done["completed_by"], done["assignee"]) == ("completed", "change-manager", "change-manager")
    assert done["completed_at"] is not None
    [completed] = [event for event in state["event"] if event["type"] == "completed"]
    assert completed["actor"] == "change-manager" and completed["task_id"] == assess["id"]
    assert completed["data"]["data"] == {"assessment_decision": "accept", "assessment_notes": None}


def test_only_the_forms_fields_reach_the_process_data(http, assess):
    before = http.get(f"/api/instances/{assess['instance_id']}", "change-manager").get_json()["data"]

    http.complete(assess["id"], "change-manager", {"assessment_decision": "accept"})

    after = http.get(f"/api/instances/{assess['instance_id']}", "change-manager").get_json()["data"]
    # the submission adds only the form's fields; the CAB check that follows the assessment adds its verdict
    assert set(after) - set(before) == ASSESSMENT_FIELDS | {"needs_cab"}
    assert {key: after[key] for key in before} == before
    assert after["assessment_decision"] == "accept" and after["assessment_notes"] is None


def test_a_bad_form_is_422_with_errors_per_field_and_changes_nothing(app, http, assess):
    before = rows(app)

    response = http.post(f"/api/tasks/{assess['id']}/complete", "change-manager",
                         {"data": {"assessment_decision": "maybe", "assessment_notes": 42}})

    body = assert_problem(response, 422, "validation-failed")
    assert set(body["errors"]) == {"assessment_decision", "assessment_notes"}
    assert all(isinstance(messages, list) and messages for messages in body["errors"].values())
    assert rows(app) == before


def test_a_required_if_field_missing_is_422_on_that_field(http, assess):
    response = http.post(f"/api/tasks/{assess['id']}/complete", "change-manager",
                         {"data": {"assessment_decision": "reject"}})

    assert set(assert_problem(response, 422)["errors"]) == {"assessment_notes"}


def test_unknown_form_fields_are_422_and_cannot_overwrite_process_data(app, http, assess):
    before = rows(app)

    response = http.post(f"/api/tasks/{assess['id']}/complete", "change-manager",
                         {"data": {"assessment_decision": "accept", "risk": "low", "approved_by": "me"}})

    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"] == {"risk": ["Unknown field."], "approved_by": ["Unknown field."]}
    assert rows(app) == before


def test_unknown_fields_in_the_request_body_are_422(app, http, assess):
    before = rows(app)

    response = http.post(f"/api/tasks/{assess['id']}/complete", "change-manager",
                         {"data": {"assessment_decision": "accept"}, "comment": "looks fine"})

    assert set(assert_problem(response, 422, "validation-failed")["errors"]) == {"comment"}
    assert rows(app) == before


def test_data_that_is_not_an_object_is_422(http, assess):
    response = http.post(f"/api/tasks/{assess['id']}/complete", "change-manager", {"data": ["accept"]})

    assert set(assert_problem(response, 422)["errors"]) == {"data"}


def test_a_double_complete_is_409_and_changes_nothing(app, http, assess):
    http.complete(assess["id"], "change-manager", {"assessment_decision": "accept"})
    before = rows(app)

    response = http.post(f"/api/tasks/{assess['id']}/complete", "change-manager",
                         {"data": {"assessment_decision": "reject", "assessment_notes": "changed my mind"}})

    body = assert_problem(response, 409, "conflict", detail="already completed by change-manager")
    assert body["context"] == {"task_id": assess["id"], "completed_by": "change-manager"}
    assert rows(app) == before


def test_completing_a_task_someone_else_holds_is_409_and_changes_nothing(app, http, clock, app_engine):
    task = http.change_at(clock, app_engine, "implement_change")
    assert http.post(f"/api/tasks/{task['id']}/claim", "change-practitioner-2").status_code == 200
    before = rows(app)

    response = http.post(f"/api/tasks/{task['id']}/complete", "change-practitioner",
                         {"data": {"implementation_outcome": "successful"}})

    assert assert_problem(response, 409, "conflict")["context"]["assignee"] == "change-practitioner-2"
    assert rows(app) == before


def test_a_user_without_the_tasks_role_may_not_complete_it(app, http, assess):
    before = rows(app)

    for user in ("change-practitioner", "change-owner", "admin"):
        response = http.post(f"/api/tasks/{assess['id']}/complete", user, {"data": {"assessment_decision": "accept"}})
        assert_problem(response, 403, "forbidden", detail="Only a manager of change may complete 'Assess change'")
    assert rows(app) == before


# -- claiming, releasing, assigning ---------------------------------------------------------------------


def test_claiming_takes_the_task_and_claiming_again_changes_nothing(app, http, assess):
    first = http.post(f"/api/tasks/{assess['id']}/claim", "change-manager")
    second = http.post(f"/api/tasks/{assess['id']}/claim", "change-manager")

    assert first.status_code == second.status_code == 200
    assert first.get_json()["assignee"] == second.get_json()["assignee"] == "change-manager"
    claims = [event for event in rows(app, "event")["event"] if event["type"] == "claimed"]
    assert [(event["actor"], event["task_id"]) for event in claims] == [("change-manager", assess["id"])]


def test_claiming_a_task_someone_else_holds_is_409_and_changes_nothing(app, http, clock, app_engine):
    task = http.change_at(clock, app_engine, "implement_change")
    http.post(f"/api/tasks/{task['id']}/claim", "change-practitioner")
    before = rows(app)

    response = http.post(f"/api/tasks/{task['id']}/claim", "change-practitioner-2")

    body = assert_problem(response, 409, "conflict", detail="held by change-practitioner")
    assert body["context"] == {"task_id": task["id"], "assignee": "change-practitioner"}
    assert rows(app) == before


def test_claiming_a_completed_task_is_409(http, assess):
    http.complete(assess["id"], "change-manager", {"assessment_decision": "accept"})

    assert_problem(http.post(f"/api/tasks/{assess['id']}/claim", "change-manager"), 409, "conflict")


def test_the_holder_releases_a_task_and_others_may_not(app, http, clock, app_engine):
    task = http.change_at(clock, app_engine, "implement_change")
    http.post(f"/api/tasks/{task['id']}/claim", "change-practitioner")

    refused = http.post(f"/api/tasks/{task['id']}/unclaim", "change-practitioner-2")
    assert_problem(refused, 403, "forbidden", detail="held by change-practitioner")
    released = http.post(f"/api/tasks/{task['id']}/unclaim", "change-practitioner")

    assert released.status_code == 200 and released.get_json()["assignee"] is None
    [row] = [row for row in rows(app, "human_task")["human_task"] if row["id"] == task["id"]]
    assert row["assignee"] is None
    [event] = [event for event in rows(app, "event")["event"] if event["type"] == "unclaimed"]
    assert event["actor"] == "change-practitioner" and event["data"]["previous"] == "change-practitioner"


def test_a_manager_may_release_a_task_someone_else_holds(http, clock, app_engine):
    task = http.change_at(clock, app_engine, "implement_change")
    http.post(f"/api/tasks/{task['id']}/claim", "change-practitioner")

    response = http.post(f"/api/tasks/{task['id']}/unclaim", "change-manager")

    assert response.status_code == 200 and response.get_json()["assignee"] is None


def test_a_manager_assigns_a_task_to_a_user_who_holds_its_role(app, http, clock, app_engine):
    task = http.change_at(clock, app_engine, "implement_change")

    response = http.post(f"/api/tasks/{task['id']}/assign", "change-manager", {"user": "change-practitioner-2"})

    assert response.status_code == 200 and response.get_json()["assignee"] == "change-practitioner-2"
    [event] = [event for event in rows(app, "event")["event"] if event["type"] == "assigned"]
    assert event["actor"] == "change-manager" and event["data"]["assignee"] == "change-practitioner-2"
    mine = http.get("/api/tasks?assignee=me", "change-practitioner-2").get_json()
    assert [t["id"] for t in mine] == [task["id"]]


def test_a_task_cannot_be_assigned_to_someone_outside_its_role(app, http, clock, app_engine):
    task = http.change_at(clock, app_engine, "implement_change")
    before = rows(app)

    response = http.post(f"/api/tasks/{task['id']}/assign", "change-manager", {"user": "release-practitioner"})

    assert_problem(response, 403, "forbidden", detail="release-practitioner is not a practitioner of change")
    assert rows(app) == before


def test_assigning_to_an_unknown_user_is_422_on_the_user_field(app, http, assess):
    before = rows(app)

    response = http.post(f"/api/tasks/{assess['id']}/assign", "change-manager", {"user": "ghost"})

    errors = assert_problem(response, 422, "validation-failed")["errors"]
    assert errors == {"user": ["There is no active user 'ghost'."]}
    assert rows(app) == before


def test_a_practitioner_may_not_assign_tasks(app, http, clock, app_engine):
    task = http.change_at(clock, app_engine, "implement_change")
    before = rows(app)

    response = http.post(f"/api/tasks/{task['id']}/assign", "change-practitioner", {"user": "change-practitioner"})

    assert_problem(response, 403, "forbidden", detail="Only a manager or owner of change")
    assert rows(app) == before


# -- separation of duties -------------------------------------------------------------------------------


@pytest.fixture
def requester_is_also_a_manager(http):
    """change-practitioner also holds manager:change, granted by the admin over HTTP."""
    response = http.post("/api/role-assignments", "admin",
                         {"user": "change-practitioner", "role": "manager", "practice": "change"})
    assert response.status_code == 201
    me = http.get("/api/me", "change-practitioner").get_json()
    assert {"role": "manager", "practice": "change"} in me["roles"]


@pytest.fixture
def authorize_own_change(http, clock, requester_is_also_a_manager):
    """The 'Authorize change' task of a change that change-practitioner requested."""
    instance = http.start_change(clock, user="change-practitioner")
    http.complete(instance["tasks"][0]["id"], "change-manager", {"assessment_decision": "accept"})
    return http.open_task(instance["id"], "authorize_change")


def test_a_requester_may_not_claim_the_authorization_of_their_own_change(app, http, authorize_own_change):
    before = rows(app)

    response = http.post(f"/api/tasks/{authorize_own_change['id']}/claim", "change-practitioner")

    body = assert_problem(response, 403, "separation-of-duties")
    assert body["detail"] == (f"Separation of duties: change-practitioner requested "
                              f"{authorize_own_change['business_key']} and may not also do 'Authorize change'.")
    assert rows(app) == before


def test_a_requester_may_not_approve_their_own_change(app, http, authorize_own_change):
    before = rows(app)

    response = http.post(f"/api/tasks/{authorize_own_change['id']}/complete", "change-practitioner",
                         {"data": {"authorization_decision": "authorize"}})

    assert_problem(response, 403, "separation-of-duties", detail="change-practitioner requested")
    assert rows(app) == before


def test_a_requester_may_not_be_assigned_the_authorization_of_their_own_change(app, http, authorize_own_change):
    before = rows(app)

    response = http.post(f"/api/tasks/{authorize_own_change['id']}/assign", "admin", {"user": "change-practitioner"})

    assert_problem(response, 403, "separation-of-duties", detail="change-practitioner requested")
    assert rows(app) == before


def test_a_barred_task_is_not_on_the_requesters_list_but_another_manager_completes_it(http, authorize_own_change):
    task_id = authorize_own_change["id"]
    mine = http.get("/api/tasks", "change-practitioner").get_json()
    visible = http.get("/api/tasks?scope=all", "change-practitioner").get_json()
    assert task_id not in [task["id"] for task in mine]
    assert task_id in [task["id"] for task in visible]
    assert task_id in [task["id"] for task in http.get("/api/tasks", "change-manager").get_json()]

    done = http.complete(task_id, "change-manager", {"authorization_decision": "authorize"})

    assert done["instance"]["status"] == "waiting"
