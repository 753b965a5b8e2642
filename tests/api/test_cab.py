"""The CAB's API: the agenda, the chair's recorded outcomes, and the rules owners set (issue 14)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api.support import assert_problem, iso, rows
from tests.processes.harness import enrol

pytestmark = pytest.mark.usefixtures("shipped")


@pytest.fixture
def cab(client: Any, people: Any) -> list[str]:
    return [enrol(client, people, name, "cab:change") for name in ("cab-ann", "cab-bob")]


def at_the_cab(http: Any, clock: Any, *, start_in: timedelta = timedelta(days=1)) -> dict[str, Any]:
    """A high-risk change, assessed, awaiting the CAB."""
    instance = http.start_change(clock, impact="high", likelihood="high", start_in=start_in)
    task = http.open_task(instance["id"], "assess_change")
    http.complete(task["id"], "change-manager", {"assessment_decision": "accept"})
    return instance


def instance(http: Any, instance_id: int) -> dict[str, Any]:
    return http.get(f"/api/instances/{instance_id}", "admin").get_json()


def test_the_agenda_lists_the_changes_awaiting_the_cab_with_risk_service_window_and_votes(http, clock, cab):
    waiting = at_the_cab(http, clock)
    http.start_change(clock)  # low risk: never on the agenda
    vote = [t for t in instance(http, waiting["id"])["tasks"] if t["element_id"] == "cab_vote"][0]
    http.complete(vote["id"], "cab-ann", {"cab_vote": "reject", "cab_comment": "Backout untested."})

    response = http.get("/api/cab/agenda", "cab-bob")

    assert response.status_code == 200, response.get_json()
    [item] = response.get_json()
    data = instance(http, waiting["id"])["data"]
    assert item == {
        "instance_id": waiting["id"], "business_key": waiting["business_key"], "process": "normal_change",
        "practice": "change", "title": "Upgrade the payroll database", "requester": "change-practitioner",
        "risk": "high", "conflicts": [], "service": "payroll", "planned_start": data["planned_start"],
        "planned_end": data["planned_end"], "seats": 2, "quorum": 2, "decision_rule": "any_reject",
        "votes": {"approve": 0, "reject": 1, "abstain": 0}, "deadline": iso(clock.now() + timedelta(hours=72))
        .replace("Z", "+00:00"),
    }


def test_the_agenda_filters_by_the_planned_start_and_the_practice(http, clock, cab):
    soon = at_the_cab(http, clock, start_in=timedelta(days=1))
    later = at_the_cab(http, clock, start_in=timedelta(days=10))
    keys = lambda **query: [i["business_key"] for i in http.get("/api/cab/agenda", "change-manager",  # noqa: E731
                                                                 query_string=query).get_json()]

    assert keys() == [soon["business_key"], later["business_key"]]
    assert keys(**{"from": iso(clock.now()), "to": iso(clock.now() + timedelta(days=5))}) == [soon["business_key"]]
    assert keys(**{"from": iso(clock.now() + timedelta(days=5))}) == [later["business_key"]]
    assert keys(practice="change") == [soon["business_key"], later["business_key"]]
    assert http.get("/api/cab/agenda?practice=release", "release-manager").get_json() == []


def test_who_may_read_the_agenda(http, clock, cab):
    at_the_cab(http, clock)
    assert_problem(http.get("/api/cab/agenda", "change-practitioner"), 403, detail="CAB members, managers and owners")
    assert_problem(http.get("/api/cab/agenda?practice=change", "release-manager"), 403, detail="of change")
    assert_problem(http.get("/api/cab/agenda?from=yesterday", "change-manager"), 422)
    for reader in ("cab-ann", "change-manager", "change-owner", "admin"):
        assert len(http.get("/api/cab/agenda", reader).get_json()) == 1, reader
    assert http.get("/api/cab/agenda", "release-manager").get_json() == []  # their own practice's: empty


def test_the_chair_records_a_meetings_outcomes_for_several_changes_in_one_step(http, clock, cab):
    approved, rejected = at_the_cab(http, clock), at_the_cab(http, clock)

    response = http.post("/api/cab/decisions", "change-manager", {"decisions": [
        {"business_key": approved["business_key"], "outcome": "approved", "comment": "Go, with the DBA on call."},
        {"business_key": rejected["business_key"], "outcome": "rejected", "comment": "Clashes with month end."},
    ]})

    assert response.status_code == 200, response.get_json()
    assert [r["business_key"] for r in response.get_json()["recorded"]] == [approved["business_key"],
                                                                           rejected["business_key"]]
    first, second = instance(http, approved["id"]), instance(http, rejected["id"])
    assert first["data"]["authorized"] is True
    assert (first["data"]["cab_result"]["outcome"], first["data"]["cab_result"]["decided_by"],
            first["data"]["cab_result"]["chair"]) == ("approved", "chair", "change-manager")
    assert "authorized" not in second["data"]
    assert [t["element_id"] for t in second["tasks"]] == ["rework_request_for_change"]
    assert http.get("/api/cab/agenda", "change-manager").get_json() == []
    trail = http.get(f"/api/instances/{approved['id']}/events?per_page=200", "admin").get_json()
    decided = [e for e in trail if e["type"] == "cab.decided"]
    assert [(e["actor"], e["data"]["outcome"], e["data"]["decided_by"], e["data"]["chair_comment"])
            for e in decided] == [("change-manager", "approved", "chair", "Go, with the DBA on call.")]
    assert [e["actor"] for e in trail if e["type"] == "message_received"] == ["change-manager"]


def test_recording_outcomes_is_all_or_nothing(app, http, clock, cab):
    waiting = at_the_cab(http, clock)
    low_risk = http.start_change(clock)
    before = rows(app)

    response = http.post("/api/cab/decisions", "change-owner", {"decisions": [
        {"business_key": waiting["business_key"], "outcome": "approved"},
        {"business_key": low_risk["business_key"], "outcome": "approved"},
    ]})

    body = assert_problem(response, 409, detail=f"decisions[1]: {low_risk['business_key']} is not awaiting the CAB")
    assert "Nothing was recorded" in body["detail"]
    assert rows(app) == before
    assert [i["business_key"] for i in http.get("/api/cab/agenda", "change-owner").get_json()] == \
        [waiting["business_key"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"decisions": []}, "decisions"),
    ({"decisions": [{"business_key": "CHG-000001", "outcome": "maybe"}]}, "decisions.0.outcome"),
    ({"decisions": [{"business_key": "CHG-000001"}]}, "decisions.0.outcome"),
])
def test_malformed_outcomes_are_refused_naming_the_field(http, body, field):
    problem = assert_problem(http.post("/api/cab/decisions", "change-manager", body), 422)
    assert field in problem["errors"]


def test_the_same_change_twice_is_refused(http, clock, cab):
    waiting = at_the_cab(http, clock)
    item = {"business_key": waiting["business_key"], "outcome": "approved"}
    problem = assert_problem(http.post("/api/cab/decisions", "change-manager", {"decisions": [item, item]}), 422)
    assert "decisions.1.business_key" in problem["errors"]


def test_only_the_chair_records_outcomes(http, clock, cab):
    waiting = at_the_cab(http, clock)
    body = {"decisions": [{"business_key": waiting["business_key"], "outcome": "approved"}]}
    assert_problem(http.post("/api/cab/decisions", "cab-ann", body), 403, detail="Only the chair of the CAB of change")
    assert_problem(http.post("/api/cab/decisions", "change-practitioner", body), 403)
    assert_problem(http.post("/api/cab/decisions", "release-owner", body), 404)
    assert_problem(http.post("/api/cab/decisions", "change-manager",
                             {"decisions": [{"business_key": "CHG-999999", "outcome": "approved"}]}), 404,
                   detail="decisions[0]: there is no change CHG-999999")


def test_the_chair_may_not_record_the_decision_on_a_change_they_requested(app, http, clock, client, people, cab):
    chair = enrol(client, people, "change-lead", "practitioner:change", "manager:change")
    instance = http.start_change(clock, user=chair, impact="high", likelihood="high")
    http.complete(http.open_task(instance["id"], "assess_change")["id"], "change-manager",
                  {"assessment_decision": "accept"})
    before = rows(app)

    response = http.post("/api/cab/decisions", chair,
                         {"decisions": [{"business_key": instance["business_key"], "outcome": "approved"}]})

    assert_problem(response, 403, "separation-of-duties", detail=f"change-lead requested {instance['business_key']}")
    assert rows(app) == before


def test_owners_set_the_cab_rule_of_their_change_models(app, http, clock):
    assert {r["process"]: r["is_default"] for r in http.get("/api/cab/rules", "change-manager").get_json()}[
        "normal_change"] is True

    response = http.call("PUT", "/api/cab/rules/normal_change", "change-owner",
                         json={"quorum": 3, "decision_rule": "majority", "vote_hours": 24})

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"process": "normal_change", "practice": "change", "quorum": 3,
                                   "decision_rule": "majority", "vote_hours": 24, "is_default": False,
                                   "updated_by": "change-owner", "updated_at": clock.now().isoformat()}
    listed = http.get("/api/cab/rules", "change-practitioner").get_json()
    [rule] = [r for r in listed if r["process"] == "normal_change"]
    assert (rule["quorum"], rule["decision_rule"], rule["is_default"]) == (3, "majority", False)
    assert rows(app, "cab_rule")["cab_rule"][0]["quorum"] == 3


def test_a_bad_rule_is_refused_naming_the_field_and_changes_nothing(app, http):
    for body, field in (({"quorum": 0, "decision_rule": "majority", "vote_hours": 24}, "quorum"),
                        ({"quorum": 2, "decision_rule": "loudest", "vote_hours": 24}, "decision_rule"),
                        ({"quorum": 2, "decision_rule": "majority"}, "vote_hours")):
        problem = assert_problem(http.call("PUT", "/api/cab/rules/normal_change", "change-owner", json=body), 422)
        assert field in problem["errors"], problem
    assert_problem(http.call("PUT", "/api/cab/rules/no_such_model", "change-owner",
                             json={"quorum": 2, "decision_rule": "majority", "vote_hours": 24}), 404,
                   detail="no_such_model")
    assert_problem(http.call("PUT", "/api/cab/rules/normal_change", "change-manager",
                             json={"quorum": 2, "decision_rule": "majority", "vote_hours": 24}), 403,
                   detail="Only the process owner of change")
    assert rows(app, "cab_rule")["cab_rule"] == []
