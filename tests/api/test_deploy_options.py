"""Deploy options over HTTP: warnings in the answer, the default role, naming one of several processes."""

from __future__ import annotations

from tests.api.support import assert_problem
from tests.engine.builder import diagram, end_event, flows, start_event, user_task
from tests.engine.support import without_layout_note

LANELESS = diagram(start_event() + user_task("approve", "Approve") + end_event() + flows("start", "approve", "end"))


def test_a_laneless_task_deploys_with_a_warning_and_the_default_role(http):
    answer = http.post("/api/process-models/approval/versions", "change-owner",
                       {"bpmn": LANELESS, "practice": "change", "default_role": "manager"})

    assert answer.status_code == 201
    [warning] = without_layout_note(answer.get_json()["warnings"])
    assert warning["element_id"] == "approve" and "default role, manager" in warning["message"]
    started = http.post("/api/instances", "change-practitioner", {"process": "approval"}).get_json()
    assert [(task["element_id"], task["role"]) for task in started["tasks"]] == [("approve", "manager")]


def test_validate_reports_the_same_warnings_and_role_sources(http):
    answer = http.post("/api/process-models/validate", "change-owner",
                       {"bpmn": LANELESS, "practice": "change", "key": "approval"})

    body = answer.get_json()
    assert answer.status_code == 200 and body["valid"] is True
    assert [w["element_id"] for w in without_layout_note(body["warnings"])] == ["approve"]
    assert body["user_tasks"][0]["role"] == "practitioner"
    assert body["user_tasks"][0]["role_source"] == "default role"


def test_an_unknown_default_role_or_process_id_is_a_422(http):
    bad_role = http.post("/api/process-models/approval/versions", "change-owner",
                         {"bpmn": LANELESS, "practice": "change", "default_role": "cab"})
    bad_process = http.post("/api/process-models/approval/versions", "change-owner",
                            {"bpmn": LANELESS, "practice": "change", "process_id": "Other"})

    assert "default_role" in assert_problem(bad_role, 422, "validation-failed")["errors"]
    problem = assert_problem(bad_process, 422, "invalid-bpmn")
    assert "no process with the id 'Other'" in problem["errors"][0]["message"]
