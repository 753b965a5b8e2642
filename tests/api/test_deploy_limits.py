"""Deploy refuses text longer than the column that will store it, naming the element (the HTTP tests found
these: SQLite stores such text anyway, PostgreSQL refused it with a 500 at deploy or at every start)."""

from __future__ import annotations

import pytest

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


# -- entity references, huge durations (issue 9, findings 5, 12 and 13) -------------------------------------

ENTITY_REFERENCE = diagrams.REVIEW.replace(
    '<?xml version="1.0" encoding="UTF-8"?>\n',
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE bpmn:definitions [<!ENTITY a "Review">]>\n',
).replace('name="Review"', 'name="&a;"')
DUE_IN_HUGE = diagrams.REVIEW.replace(
    '<bpmn:userTask id="review" name="Review"/>',
    '<bpmn:userTask id="review" name="Review"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="dueIn" value="P100000Y"/></spiffworkflow:properties>'
    "</bpmn:extensionElements></bpmn:userTask>")


def _timer_diagram(kind: str, expression: str) -> str:
    return diagrams.document("wait_process", (
        '<bpmn:startEvent id="start"/>\n'
        f'<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition id="wait_def">'
        f'<bpmn:{kind} xsi:type="bpmn:tFormalExpression">{expression}</bpmn:{kind}>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n"
        '<bpmn:endEvent id="end"/>\n'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>\n'
        '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>\n'))


def test_the_entity_diagram_is_what_the_bug_needs():
    assert "<!ENTITY a" in ENTITY_REFERENCE and 'name="&a;"' in ENTITY_REFERENCE
    assert 'value="P100000Y"' in DUE_IN_HUGE


@pytest.mark.parametrize("path, extra", [("/api/process-models/entity/versions", {}),
                                         ("/api/process-models/validate", {"key": "entity"})])
def test_an_entity_reference_is_a_deploy_problem_not_a_500(app, http, path, extra):
    before = rows(app)

    response = http.post(path, "change-owner", {"bpmn": ENTITY_REFERENCE, "practice": "change", **extra})

    [problem] = assert_problem(response, 422, "invalid-bpmn")["errors"]
    assert "DOCTYPE" in problem["message"] and problem["line"] == 2
    assert rows(app) == before


def test_a_due_in_beyond_100_years_is_refused_at_deploy(app, http):
    before = rows(app)

    response = http.post("/api/process-models/due_in/versions", "change-owner",
                         {"bpmn": DUE_IN_HUGE, "practice": "change"})

    [problem] = assert_problem(response, 422, "invalid-bpmn")["errors"]
    assert problem["element_id"] == "review" and "longer than 100 years" in problem["message"]
    assert rows(app) == before


@pytest.mark.parametrize("kind, expression", [
    ("timeDuration", "P99999999Y"), ("timeDuration", "P1300M"), ("timeCycle", "R3/P99999999Y"),
])
def test_a_timer_beyond_100_years_is_refused_at_deploy(app, http, kind, expression):
    response = http.post("/api/process-models/wait/versions", "change-owner",
                         {"bpmn": _timer_diagram(kind, expression), "practice": "change"})

    [problem] = assert_problem(response, 422, "invalid-bpmn")["errors"]
    assert problem["element_id"] == "wait" and "longer than 100 years" in problem["message"]


def test_a_timer_expression_computing_a_huge_duration_is_an_incident(app, http, deploy):
    deploy("wait", _timer_diagram("timeDuration", "'P' + str(10 ** 8) + 'Y'"))

    response = http.post("/api/instances", "change-practitioner", {"process": "wait"})

    assert response.status_code == 201, response.get_json()
    instance = response.get_json()
    assert instance["status"] == "error"
    assert "longer than 100 years" in instance["incident"]["message"]


def test_a_99_year_timer_still_deploys_and_waits(http, deploy):
    deploy("wait", _timer_diagram("timeDuration", "P99Y"))

    instance = http.post("/api/instances", "change-practitioner", {"process": "wait"}).get_json()

    assert instance["status"] == "waiting"
