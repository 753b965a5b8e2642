"""Versions with their instance counts, the diff of two versions, and instance migration over HTTP."""

from __future__ import annotations

import pytest

from tests.api.support import assert_problem, rows
from tests.engine.test_migration import V1, V2

MIGRATIONS = "/api/process-models/proc/migrations"


@pytest.fixture
def two_versions(http):
    for bpmn in (V1, V2):
        answer = http.post("/api/process-models/proc/versions", "change-owner",
                           {"bpmn": bpmn, "practice": "change", "comment": "step"})
        assert answer.status_code == 201
    return http


def _start(http, version=1):
    answer = http.post("/api/instances", "change-practitioner", {"process": "proc", "version": version})
    assert answer.status_code == 201
    return answer.get_json()


def _migrations(http):
    return [(e["actor"], e["data"]["to_version"]) for e in rows(http.client.application, "event")["event"]
            if e["type"] == "version_changed"]


def test_versions_say_who_when_why_and_how_many_instances_run_on_each(two_versions):
    http = two_versions
    _start(http), _start(http), _start(http, version=2)

    answer = http.get("/api/process-models/proc/versions", "release-practitioner")

    assert answer.status_code == 200
    assert [(v["version"], v["deployed_by"], v["comment"], v["instances"]) for v in answer.get_json()] == [
        (2, "change-owner", "step", {"running": 1}), (1, "change-owner", "step", {"running": 2})]


def test_the_diff_marks_added_removed_and_changed_elements(two_versions):
    answer = two_versions.get("/api/process-models/proc/versions/2/diff?against=1", "change-practitioner")

    assert answer.status_code == 200
    changes = {(c["element_id"], c["change"]) for c in answer.get_json()["changes"]}
    assert changes == {("check", "added"), ("flow_review_check", "added"), ("flow_check_approve", "added"),
                       ("review", "changed"), ("flow_review_approve", "removed")}


def test_a_diff_against_a_missing_version_is_404(two_versions):
    answer = two_versions.get("/api/process-models/proc/versions/2/diff?against=9", "change-owner")
    assert_problem(answer, 404)


def test_a_dry_run_lists_instances_and_changes_nothing(two_versions):
    http = two_versions
    instance = _start(http)

    answer = http.post(MIGRATIONS, "change-owner", {"from_version": 1, "to_version": 2})

    body = answer.get_json()
    assert answer.status_code == 200 and body["dry_run"] is True and body["moved"] == []
    [plan] = body["instances"]
    assert (plan["business_key"], plan["can_move"], plan["problems"]) == (instance["business_key"], True, [])
    assert _migrations(http) == []
    assert http.get(f"/api/instances/{instance['id']}", "change-practitioner").get_json()["version"] == 1


def test_a_migration_moves_the_instance_and_audits_it(two_versions):
    http = two_versions
    instance = _start(http)

    answer = http.post(MIGRATIONS, "admin", {"from_version": 1, "to_version": 2, "dry_run": False})

    body = answer.get_json()
    assert answer.status_code == 200 and body["moved"] == [instance["business_key"]] and body["skipped"] == []
    assert http.get(f"/api/instances/{instance['id']}", "change-practitioner").get_json()["version"] == 2
    assert _migrations(http) == [("admin", 2)]


@pytest.mark.parametrize("user", ["change-manager", "change-practitioner", "release-owner"])
def test_only_owners_of_the_practice_and_admins_migrate(two_versions, user):
    instance = _start(two_versions)
    for dry_run in (True, False):
        answer = two_versions.post(MIGRATIONS, user, {"from_version": 1, "to_version": 2, "dry_run": dry_run})
        assert_problem(answer, 403)
    assert _migrations(two_versions) == []
    assert two_versions.get(f"/api/instances/{instance['id']}", "admin").get_json()["version"] == 1


def test_a_bad_mapping_is_422_naming_the_element(two_versions):
    answer = two_versions.post(MIGRATIONS, "change-owner",
                               {"from_version": 1, "to_version": 2, "mapping": {"review": "nowhere"}})
    assert_problem(answer, 422)
    assert answer.get_json()["errors"] == {"mapping.review": ["'nowhere' is not an element of the target version."]}
