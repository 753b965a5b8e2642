"""A record by its business key, work notes in the trail, start forms as JSON Schema, finding records."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.support import assert_problem, row_counts, rows

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_business_key_resolves_to_the_same_instance_as_its_id(http, clock):
    instance = http.start_change(clock)

    by_key = http.get(f"/api/instances/{instance['business_key']}", "change-manager")
    by_id = http.get(f"/api/instances/{instance['id']}", "change-manager")

    assert by_key.status_code == 200 and by_key.get_json() == by_id.get_json()


def test_an_unknown_or_hidden_business_key_is_a_404(http, clock):
    instance = http.start_change(clock)

    assert_problem(http.get("/api/instances/CHG-999999", "change-manager"), 404, "not-found")
    assert_problem(http.get(f"/api/instances/{instance['business_key']}", "release-manager"), 404, "not-found")


def test_a_work_note_lands_in_the_trail_with_its_author(http, clock, app):
    instance = http.start_change(clock)

    response = http.post(f"/api/instances/{instance['id']}/notes", "change-owner", {"text": "  Call the DBA first. "})

    assert response.status_code == 201
    note = response.get_json()
    assert (note["type"], note["actor"], note["data"]) == ("note", "change-owner", {"text": "Call the DBA first."})
    trail = http.get(f"/api/instances/{instance['id']}/events", "change-manager").get_json()
    assert trail[-1] == note


@pytest.mark.parametrize("body, field", [({"text": "   "}, "text"), ({"text": "x" * 5001}, "text"), ({}, "text")])
def test_an_empty_or_overlong_note_is_refused_and_nothing_is_written(http, clock, app, body, field):
    instance = http.start_change(clock)
    before = rows(app)

    problem = assert_problem(http.post(f"/api/instances/{instance['id']}/notes", "change-manager", body), 422)

    assert field in problem["errors"]
    assert rows(app) == before


def test_a_note_on_a_record_of_another_practice_is_a_404(http, clock, app):
    instance = http.start_change(clock)
    before = row_counts(app, "event")

    assert_problem(http.post(f"/api/instances/{instance['id']}/notes", "release-manager", {"text": "hi"}), 404)
    assert row_counts(app, "event") == before


def test_the_start_form_is_published_as_json_schema(http):
    response = http.get("/api/process-models/normal_change/versions/1/start-form", "change-practitioner")

    assert response.status_code == 200
    body = response.get_json()
    assert (body["process"], body["version"], body["start_role"]) == ("normal_change", 1, "practitioner")
    schema = body["form"]["schema"]
    assert body["form"]["key"] == "change/request"
    assert "title" in schema["required"] and schema["properties"]["impact"]["enum"] == ["low", "medium", "high"]


def test_an_unknown_version_has_no_start_form(http):
    assert_problem(http.get("/api/process-models/normal_change/versions/9/start-form", "admin"), 404)
    assert_problem(http.get("/api/process-models/nope/versions/1/start-form", "admin"), 404)


def test_instances_filter_by_service_and_start_date(http, clock):
    first = http.start_change(clock, affected_service="mail")
    clock.advance(timedelta(days=2))
    second = http.start_change(clock, affected_service="payroll")
    middle = (clock.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def keys(query):
        response = http.get(f"/api/instances?{query}", "change-manager")
        assert response.status_code == 200, response.get_json()
        return [item["business_key"] for item in response.get_json()]

    assert keys("service=mail") == [first["business_key"]]
    assert keys(f"started_from={middle}") == [second["business_key"]]
    assert keys(f"started_until={middle}") == [first["business_key"]]
