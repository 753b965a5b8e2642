"""Deploy refuses text longer than the column that will store it, naming the element (the HTTP tests found
these: SQLite stores such text anyway, PostgreSQL refused it with a 500 at deploy or at every start)."""

from __future__ import annotations

from tests.api import diagrams
from tests.api.support import assert_problem, rows

LONG_ID = "r" * 201
LONG_PROCESS_NAME = diagrams.REVIEW.replace('name="Test review_process"', f'name="{"N" * 201}"')
LONG_TASK_NAME = diagrams.REVIEW.replace('name="Review"', f'name="{"T" * 301}"')
LONG_TASK_ID = diagrams.REVIEW.replace('"review"', f'"{LONG_ID}"').replace(">review<", f">{LONG_ID}<")


def test_the_diagrams_are_what_the_bugs_need():
    """Guards the xfail tests below: they must fail for the reason they name, not a typo in the diagram."""
    assert 'name="' + "N" * 201 + '"' in LONG_PROCESS_NAME
    assert 'name="' + "T" * 301 + '"' in LONG_TASK_NAME
    assert LONG_TASK_ID.count(LONG_ID) == 4 and '"review"' not in LONG_TASK_ID  # the task, its lane, both flows


def test_a_process_name_longer_than_its_column_is_a_deploy_problem(app, http):
    before = rows(app)

    response = http.post("/api/process-models/long_name/versions", "change-owner",
                         {"bpmn": LONG_PROCESS_NAME, "practice": "change"})

    [problem] = assert_problem(response, 422, "invalid-bpmn")["errors"]
    assert problem["element_id"] == "review_process"
    assert rows(app) == before


def test_a_task_name_longer_than_its_column_is_a_deploy_problem(app, http):
    response = http.post("/api/process-models/long_title/versions", "change-owner",
                         {"bpmn": LONG_TASK_NAME, "practice": "change"})

    [problem] = assert_problem(response, 422, "invalid-bpmn")["errors"]
    assert problem["element_id"] == "review"


def test_a_task_id_longer_than_its_column_is_a_deploy_problem(app, http):
    response = http.post("/api/process-models/long_id/versions", "change-owner",
                         {"bpmn": LONG_TASK_ID, "practice": "change"})

    [problem] = assert_problem(response, 422, "invalid-bpmn")["errors"]
    assert problem["element_id"] == LONG_ID
