"""The studio's version pages: versions with counts, the diff, and moving an instance through the form."""

from __future__ import annotations

import json
import re

from tests.engine.test_migration import V1, V2
from tests.web.conftest import WebClient


def _two_versions_and_an_instance(http):
    for bpmn in (V1, V2):
        assert http.post("/api/process-models/proc/versions", "change-owner",
                         {"bpmn": bpmn, "practice": "change", "comment": f"c{len(bpmn)}"}).status_code == 201
    answer = http.post("/api/instances", "change-practitioner", {"process": "proc", "version": 1})
    return answer.get_json()


def test_the_versions_page_lists_versions_and_the_diff(app, http, passwords):
    instance = _two_versions_and_an_instance(http)
    client = WebClient(app)
    client.sign_in("change-practitioner")

    page = client.get("/studio/proc/versions?compare=2&against=1")

    assert page.status == 200
    assert re.search(r'id="version-1">.*?<td class="running">1</td>', page.text, re.S)
    assert 'data-element-id="check"' in page.text and "change-added" in page.text
    assert "Move instances" not in page.text  # only owners and admins migrate
    marks = json.loads(client.get("/studio/proc/versions/2/diagram.json?against=1").text)
    assert (marks["active"], marks["waiting"]) == (["check", "flow_check_approve", "flow_review_check"], ["review"])
    old = json.loads(client.get("/studio/proc/versions/1/diagram.json?against=2").text)
    assert old["completed"] == ["flow_review_approve"] and instance["version"] == 1


def test_an_owner_runs_a_dry_run_then_moves_one_instance(app, http, passwords):
    instance = _two_versions_and_an_instance(http)
    client = WebClient(app)
    client.sign_in("change-owner")

    dry = client.get("/studio/proc/migrations?from_version=1&to_version=2")
    assert dry.status == 200 and re.search(rf'data-business-key="{instance["business_key"]}">.*?class="verdict">yes',
                                           dry.text, re.S)
    assert http.get(f"/api/instances/{instance['id']}", "admin").get_json()["version"] == 1

    moved = client.post("/studio/proc/migrations", {"from_version": "1", "to_version": "2",
                                                     "instance_id": str(instance["id"])})

    assert moved.status == 302
    assert http.get(f"/api/instances/{instance['id']}", "admin").get_json()["version"] == 2
    assert f"Moved to version 2: {instance['business_key']}." in client.get(moved.location).flashes()
    record = client.get(f"/changes/{instance['business_key']}")
    assert "moved it from version 1 to 2" in record.text
