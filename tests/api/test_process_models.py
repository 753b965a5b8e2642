"""Process models over HTTP: list, deploy (JSON or raw XML), versions, and the dry-run validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.layout import add_missing_layout
from tests.api import diagrams
from tests.api.support import assert_problem, rows
from tests.engine.support import without_layout_note

# HTTP behaviour that does not depend on the SQL dialect: one backend is enough (tests/engine and
# tests/roles cover the SQL on both).
pytestmark = pytest.mark.sqlite_only

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [  # ordered by key, as the list is
    {"key": "emergency_change", "name": "Emergency change", "practice": "change", "latest_version": 1},
    {"key": "normal_change", "name": "Normal change", "practice": "change", "latest_version": 1},
    {"key": "release", "name": "Release", "practice": "release", "latest_version": 1},
    {"key": "standard_change", "name": "Standard change", "practice": "change", "latest_version": 1},
]


def test_the_list_shows_every_model_with_its_latest_version(http, shipped):
    response = http.get("/api/process-models", "nobody")

    assert response.status_code == 200
    assert response.get_json() == SHIPPED
    assert json.loads(response.headers["X-Pagination"])["total"] == len(SHIPPED)


def test_one_model(http, shipped):
    response = http.get("/api/process-models/normal_change", "change-practitioner")

    assert response.status_code == 200
    assert response.get_json() == {"key": "normal_change", "name": "Normal change", "practice": "change",
                                   "latest_version": 1}
    assert_problem(http.get("/api/process-models/nothing_here", "change-practitioner"), 404, "not-found")


def test_deploy_answers_201_with_the_new_version_and_stores_it(app, http, clock):
    response = http.post("/api/process-models/review/versions", "change-owner",
                         {"bpmn": diagrams.REVIEW, "practice": "change", "name": "Peer review", "comment": "first"})

    assert response.status_code == 201
    body = response.get_json()
    assert {key: body[key] for key in ("key", "version", "practice", "created")} == {
        "key": "review", "version": 1, "practice": "change", "created": True}
    assert len(body["sha256"]) == 64
    state = rows(app, "process_model", "process_version", "event")
    [model] = state["process_model"]
    [version] = state["process_version"]
    assert (model["key"], model["name"], model["practice"]) == ("review", "Peer review", "change")
    assert (version["number"], version["sha256"], version["deployed_by"], version["comment"]) == (
        1, body["sha256"], "change-owner", "first")
    assert version["bpmn_xml"] == add_missing_layout(diagrams.REVIEW).xml
    [event] = state["event"]
    assert (event["type"], event["actor"], event["data"]["version"]) == ("deployed", "change-owner", 1)


def test_deploying_identical_content_answers_200_with_the_existing_version(app, http):
    first = http.post("/api/process-models/review/versions", "change-owner",
                      {"bpmn": diagrams.REVIEW, "practice": "change"})
    before = rows(app)

    again = http.post("/api/process-models/review/versions", "admin", {"bpmn": diagrams.REVIEW, "practice": "change"})

    assert again.status_code == 200
    assert again.get_json() == {**first.get_json(), "created": False}
    assert rows(app) == before


def test_changed_content_deploys_as_the_next_version(http):
    http.post("/api/process-models/review/versions", "change-owner", {"bpmn": diagrams.REVIEW, "practice": "change"})
    changed = diagrams.REVIEW.replace('name="Review"', 'name="Peer review"')

    response = http.post("/api/process-models/review/versions", "change-owner", {"bpmn": changed, "practice": "change"})

    assert response.status_code == 201 and response.get_json()["version"] == 2
    versions = http.get("/api/process-models/review/versions", "nobody").get_json()
    assert [version["version"] for version in versions] == [2, 1]  # newest first
    assert http.get("/api/process-models/review", "nobody").get_json()["latest_version"] == 2


def test_deploy_takes_raw_bpmn_xml_with_the_practice_in_the_query(http):
    response = http.post("/api/process-models/review/versions?practice=change&comment=raw", "change-owner",
                         data=diagrams.REVIEW, content_type="application/xml")

    assert response.status_code == 201
    stored = http.get("/api/process-models/review/versions/1", "nobody").get_json()
    assert (stored["bpmn"], stored["comment"], stored["sha256"]) == (add_missing_layout(diagrams.REVIEW).xml, "raw",
                                                                     response.get_json()["sha256"])
    # For an existing model the practice may be left out: it is the model's.
    again = http.post("/api/process-models/review/versions", "change-owner",
                      data=diagrams.REVIEW.replace('name="Review"', 'name="Second look"'), content_type="text/xml")
    assert again.status_code == 201 and again.get_json()["practice"] == "change"


def test_raw_xml_for_a_new_model_needs_the_practice(app, http):
    before = rows(app)

    response = http.post("/api/process-models/review/versions", "admin", data=diagrams.REVIEW,
                         content_type="application/xml")

    assert set(assert_problem(response, 422, "validation-failed")["errors"]) == {"practice"}
    assert rows(app) == before


def test_a_broken_diagram_is_422_listing_every_problem_and_stores_nothing(app, http):
    before = rows(app)

    response = http.post("/api/process-models/broken/versions", "change-owner",
                         {"bpmn": diagrams.BROKEN, "practice": "change"})

    body = assert_problem(response, 422, "invalid-bpmn", detail="2 problems")
    assert [(problem["element_id"], problem["line"]) for problem in body["errors"]] == [("orphan", 7),
                                                                                      ("cab_review", 8)]
    assert all(set(problem) == {"element_id", "message", "line"} for problem in body["errors"])
    assert "The form 'no/such-form' does not exist" in body["errors"][0]["message"]
    assert "'Steering Committee' maps to no role" in body["errors"][1]["message"]
    assert rows(app) == before


def test_xml_that_is_not_well_formed_is_422_with_its_line(app, http):
    before = rows(app)

    response = http.post("/api/process-models/broken/versions?practice=change", "change-owner",
                         data="<definitions>\n  <a>\n</definitions>", content_type="application/xml")

    [problem] = assert_problem(response, 422, "invalid-bpmn")["errors"]
    assert problem["element_id"] is None and problem["line"] == 3 and "not well-formed" in problem["message"]
    assert rows(app) == before


@pytest.mark.parametrize("kwargs, status, field", [
    ({"data": "{not json", "content_type": "application/json"}, 400, None),
    ({"data": "", "content_type": "application/json"}, 422, "body"),
    ({"data": "bpmn", "content_type": "text/plain"}, 422, "body"),
    ({"json": {"practice": "change"}}, 422, "bpmn"),
    ({"json": {"bpmn": "", "practice": "change"}}, 422, "bpmn"),
    ({"json": {"bpmn": "<x/>"}}, 422, "practice"),
    ({"json": {"bpmn": "<x/>", "practice": "change", "owner": "me"}}, 422, "owner"),
    ({"json": {"bpmn": "<x/>", "practice": "Change Management"}}, 422, "practice"),
    ({"json": {"bpmn": "<x/>", "practice": "change", "name": "n" * 201}}, 422, "name"),
    ({"data": "", "content_type": "application/xml"}, 422, "bpmn"),
])
def test_a_malformed_deploy_request_changes_nothing(app, http, kwargs, status, field):
    before = rows(app)

    response = http.post("/api/process-models/review/versions", "change-owner", **kwargs)

    body = assert_problem(response, status)
    if field is not None:
        assert field in body["errors"]
    assert rows(app) == before


def test_a_process_stays_in_its_practice(app, http):
    http.post("/api/process-models/review/versions", "admin", {"bpmn": diagrams.REVIEW, "practice": "change"})
    before = rows(app)

    response = http.post("/api/process-models/review/versions", "admin",
                         {"bpmn": diagrams.REVIEW, "practice": "release"})

    assert assert_problem(response, 422)["errors"] == {"practice": ["Must be 'change' for this process."]}
    assert rows(app) == before


@pytest.mark.parametrize("user", ["change-manager", "change-practitioner", "release-owner", "nobody"])
def test_only_the_owner_of_the_practice_or_an_admin_may_deploy(app, http, user):
    before = rows(app)

    response = http.post("/api/process-models/review/versions", user, {"bpmn": diagrams.REVIEW, "practice": "change"})

    assert_problem(response, 403, "forbidden", detail="Only the process owner of change (or an admin)")
    assert rows(app) == before


def test_a_version_comes_with_its_bpmn_xml(http, shipped):
    response = http.get("/api/process-models/normal_change/versions/1", "release-practitioner")

    body = response.get_json()
    assert response.status_code == 200
    expected = (ROOT / "bpmn" / "change" / "normal_change.bpmn").read_text(encoding="utf-8")
    assert body["bpmn"] == expected
    assert (body["key"], body["version"], body["practice"], body["deployed_by"]) == (
        "normal_change", 1, "change", "system")
    assert body["start_role"] == "practitioner" and body["start_form"] == "change/request"
    assert "change/assessment" in body["forms"] and len(body["decisions"]) == 1
    assert len(body["sha256"]) == 64


@pytest.mark.parametrize("path", ["/api/process-models/normal_change/versions/2",
                                  "/api/process-models/nothing/versions/1",
                                  "/api/process-models/nothing/versions",
                                  "/api/process-models/normal_change/versions/0",
                                  "/api/process-models/normal_change/versions/2147483648"])
def test_an_unknown_version_is_404(http, shipped, path):
    assert_problem(http.get(path, "change-owner"), 404)


# -- validation (a dry-run deploy) ----------------------------------------------------------------------


def test_validate_reports_a_valid_diagram_and_stores_nothing(app, http):
    before = rows(app)

    response = http.post("/api/process-models/validate", "change-owner",
                         {"key": "review", "bpmn": diagrams.REVIEW, "practice": "change"})

    body = response.get_json()
    assert response.status_code == 200
    assert body["valid"] is True and body["process_id"] == "review_process" and body["start_role"] == "practitioner"
    assert body["user_tasks"] == [{"element_id": "review", "title": "Review", "role": "practitioner",
                                   "role_source": "lane", "form_key": None, "separation_of_duties": []}]
    assert without_layout_note(body["warnings"]) == []
    assert rows(app) == before


def test_validate_reports_every_problem_of_a_broken_diagram(app, http):
    before = rows(app)

    response = http.post("/api/process-models/validate", "admin",
                         {"key": "broken", "bpmn": diagrams.BROKEN, "practice": "change"})

    body = assert_problem(response, 422, "invalid-bpmn")
    assert [problem["element_id"] for problem in body["errors"]] == ["orphan", "cab_review"]
    assert rows(app) == before


def test_validate_is_for_owners_and_admins(http):
    response = http.post("/api/process-models/validate", "change-manager",
                         {"key": "review", "bpmn": diagrams.REVIEW, "practice": "change"})

    assert_problem(response, 403, "forbidden")
