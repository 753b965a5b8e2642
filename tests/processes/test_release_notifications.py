"""What a release tells people: its deployment and its roll-back reach the requester and the release's managers
and owners; an instance that stops with an incident reaches the managers and owners of its practice."""

from __future__ import annotations

from typing import Any

from notifications import EXTENSION
from tests.processes.samples import release_plan
from tests.processes.test_release import build_and_pass_tests, linked_changes, pass_the_gate_at_the_window


def news(client: Any, people: Any, user: str) -> list[tuple[str, str]]:
    client.application.extensions[EXTENSION].run_pass()
    response = client.get("/api/notifications?per_page=200", headers=people.headers(user))
    return [(notice["kind"], notice["subject"]) for notice in response.get_json()]


def test_deployment_and_roll_back_are_announced(start, client, people):
    normal, _standard = linked_changes(start)
    run = start("release", as_="release-manager", data=release_plan(normal.business_key))
    build_and_pass_tests(run)
    pass_the_gate_at_the_window(run)
    run.complete("authorize_deployment", as_="release-manager-2", deployment_decision="authorize")
    run.complete("deploy_release", as_="release-practitioner", deployed_version="4.2.0")
    deployed = ("release.deployed", f"{run.business_key} was deployed")
    for user in ("release-manager", "release-manager-2", "release-owner"):
        assert deployed in news(client, people, user), user
    assert deployed not in news(client, people, "release-practitioner")  # they did it
    assert deployed not in news(client, people, "change-manager")  # another practice

    run.complete("verify_deployment", as_="release-practitioner", verification_result="failed",
                 verification_notes="Invoices stopped going out.")
    run.complete("roll_back_release", as_="release-practitioner", rollback_notes="Redeployed 4.1.3.")
    [(kind, subject)] = [item for item in news(client, people, "release-owner") if item[0] == "release.rolled_back"]
    assert subject == f"{run.business_key} was rolled back"
    body = client.get("/api/notifications", headers=people.headers("release-owner")).get_json()[0]["body"]
    assert "release-practitioner recorded" in body and "Notes: Redeployed 4.1.3." in body


def test_an_incident_reaches_the_managers_and_owners(start, client, people):
    from tests.api import diagrams

    response = client.post("/api/process-models/divide/versions", headers=people.headers("admin"),
                           json={"bpmn": diagrams.DIVIDE, "practice": "change"})
    assert response.status_code == 201, response.get_json()
    started = client.post("/api/instances", headers=people.headers("change-practitioner"),
                          json={"process": "divide", "data": {"divisor": 0}}).get_json()
    assert started["status"] == "error"
    for user in ("change-manager", "change-owner"):
        [(kind, subject)] = [item for item in news(client, people, user) if item[0] == "instance.incident"]
        assert subject == f"{started['business_key']} stopped with an incident"
    assert not [item for item in news(client, people, "change-practitioner") if item[0] == "instance.incident"]
