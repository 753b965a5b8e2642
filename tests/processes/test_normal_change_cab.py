"""The CAB path of the normal change (bpmn/change/normal_change.bpmn), through the HTTP API.

A high-risk change goes to the change advisory board: the CAB members of the practice (role ``cab``) vote
approve, reject or abstain with a comment, one vote each, never the requester. The vote closes when every
seat has voted, at the deadline of the change model's rule, or when the chair records the meeting's outcome;
the rule decides (or the chair's outcome is the decision). Without a quorum, the owner decides.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.processes.harness import Api, ProcessRun, StepFailed, enrol
from tests.processes.samples import HIGH_RISK_REQUEST, REQUEST

PRACTITIONERS = ("change-practitioner", "change-practitioner-2")


@pytest.fixture
def cab(client: Any, people: Any) -> list[str]:
    """Three CAB members of change."""
    return [enrol(client, people, name, "cab:change") for name in ("cab-ann", "cab-bob", "cab-cid")]


def set_rule(client: Any, people: Any, *, quorum: int, decision_rule: str, vote_hours: int = 72) -> None:
    Api(client, people).call("PUT", "/api/cab/rules/normal_change", as_="change-owner", step="set the CAB rule",
                             json_body={"quorum": quorum, "decision_rule": decision_rule, "vote_hours": vote_hours})


def vote(run: ProcessRun, voter: str, ballot: str, *, expect: int = 200, mentions: str | None = None,
         comment: str = "Reviewed the plans.") -> dict[str, Any]:
    """``voter`` casts ``ballot`` on one of the change's open CAB vote tasks: the first in their task list,
    or (when a refusal is expected) the first open one."""
    open_votes = [task for task in run.open_tasks() if task["element_id"] == "cab_vote"]
    listed = {task["id"] for task in run.api.task_list(voter)}
    mine = [task for task in open_votes if task["id"] in listed]
    if expect == 200 and not mine:
        raise StepFailed(f"no CAB vote of {run.business_key} in the task list of {voter}")
    task = (mine or open_votes)[0]
    body = run.api.call("POST", f"/api/tasks/{task['id']}/complete", as_=voter, expect=expect,
                        step=f"{voter} votes {ballot}",
                        json_body={"data": {"cab_vote": ballot, "cab_comment": comment}})
    if mentions is not None:
        assert mentions.lower() in body["detail"].lower(), body
    run.history.append(f"{voter} votes {ballot}")
    return body


def to_cab(start: Any, *, as_: str = "change-practitioner") -> ProcessRun:
    run = start("normal_change", as_=as_, data=HIGH_RISK_REQUEST)
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    return run


def cab_events(run: ProcessRun, type_: str) -> list[dict[str, Any]]:
    return [event["data"] for event in run.events() if event["type"] == type_]


def test_a_high_risk_change_opens_one_vote_per_cab_member_and_all_approving_authorizes_it(start, cab, client,
                                                                                         people):
    run = to_cab(start)
    run.expect_tasks({"cab_vote": set(cab)})
    assert len([t for t in run.open_tasks() if t["element_id"] == "cab_vote"]) == 3
    assert cab_events(run, "cab.opened") == [{"source": run.business_key, "quorum": 2, "decision_rule": "any_reject",
                                              "deadline": "PT72H", "closes_at": "2026-01-08T09:00:00+00:00",
                                              "seats": 3, "members": cab}]
    for member in cab:
        vote(run, member, "approve")
    run.expect_data(authorized=True, authorization_decision="authorize")
    result = run.data["cab_result"]
    assert (result["outcome"], result["decided_by"], result["approve"], result["quorum_met"]) == \
        ("approved", "rule", 3, True)
    assert [v["voter"] for v in result["votes"]] == cab
    run.expect_tasks({"implement_change": PRACTITIONERS})
    run.complete("implement_change", as_="change-practitioner", implementation_outcome="successful")
    run.complete("close_change", as_="change-manager", closure_code="successful")
    run.expect_status("completed")
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("cab.opened", "change-manager"),
        ("completed", "cab-ann", "cab_vote"),
        ("completed", "cab-bob", "cab_vote"),
        ("completed", "cab-cid", "cab_vote"),
        ("cab.decided", "cab-cid"),
        ("timer_fired", "system", "wait_for_planned_start"),
        ("completed", "change-practitioner", "implement_change"),
        ("completed", "change-manager", "close_change"),
        ("instance_completed", "change-manager"),
    )
    # the KPIs count it as authorized, by the CAB's votes
    report = Api(client, people).call("GET", "/api/kpis", as_="change-owner", step="read the KPIs",
                                      query={"from": "2026-01-01", "to": "2026-01-31"})
    metrics = report["periods"][0]["metrics"]
    assert (metrics["closed"], metrics["authorized"], metrics["authorization_sla_breaches"]) == (1, 1, 0), metrics


def test_reject_and_approve_give_rejected_under_any_reject(start, client, people):
    members = [enrol(client, people, name, "cab:change") for name in ("cab-ann", "cab-bob")]
    set_rule(client, people, quorum=2, decision_rule="any_reject")
    run = to_cab(start)
    vote(run, "cab-ann", "reject", comment="No tested backout.")
    vote(run, "cab-bob", "approve")
    result = run.data["cab_result"]
    assert (result["outcome"], result["approve"], result["reject"], result["decision_rule"]) == \
        ("rejected", 1, 1, "any_reject")
    # Both votes are kept, in order, with their comments: nothing is overwritten.
    assert result["votes"] == [{"voter": "cab-ann", "vote": "reject", "comment": "No tested backout."},
                               {"voter": "cab-bob", "vote": "approve", "comment": "Reviewed the plans."}]
    assert [b["cab_vote"] for b in run.data["cab_ballots"]] == ["reject", "approve"]
    assert [b["completed_by"] for b in run.data["cab_ballots"]] == members
    run.expect_data(authorization_decision="reject")
    assert "authorized" not in run.data
    run.expect_tasks({"rework_request_for_change": "change-practitioner"})
    assert cab_events(run, "cab.decided")[0]["outcome"] == "rejected"


def test_reject_and_approve_give_approved_under_majority_with_an_abstention(start, client, people, cab):
    set_rule(client, people, quorum=3, decision_rule="majority")
    run = to_cab(start)
    vote(run, "cab-ann", "approve")
    vote(run, "cab-bob", "approve")
    vote(run, "cab-cid", "abstain")
    result = run.data["cab_result"]
    assert (result["outcome"], result["approve"], result["abstain"]) == ("approved", 2, 1)
    run.expect_data(authorized=True)


def test_without_a_quorum_by_the_deadline_the_vote_escalates_to_the_owner(start, client, people, cab):
    set_rule(client, people, quorum=2, decision_rule="any_reject", vote_hours=48)
    run = to_cab(start)
    vote(run, "cab-ann", "approve")
    run.advance(hours=47)
    run.expect_tasks({"cab_vote": {"cab-bob", "cab-cid"}})  # still open; ann voted, so ann sees none
    run.advance(hours=2)  # the deadline: the vote closes with one vote of a quorum of two
    result = run.data["cab_result"]
    assert (result["outcome"], result["quorum_met"], result["approve"]) == ("no_quorum", False, 1)
    assert [t["element_id"] for t in run.tasks("cancelled")] == ["cab_vote", "cab_vote"]
    run.expect_tasks({"authorize_high_risk_change": "change-owner"})
    run.complete("authorize_high_risk_change", as_="change-owner", authorization_decision="authorize")
    run.expect_data(authorized=True)
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("cab.opened", "change-manager"),
        ("completed", "cab-ann", "cab_vote"),
        ("cab.decided", "system"),  # the engine notes the fired timer once the steps it set off have run
        ("timer_fired", "system", "cab_vote_deadline"),
        ("completed", "change-owner", "authorize_high_risk_change"),
        ("timer_fired", "system", "wait_for_planned_start"),
    )


def test_a_second_vote_by_the_same_member_is_refused(start, cab):
    run = to_cab(start)
    vote(run, "cab-ann", "approve")
    before = run.data
    body = vote(run, "cab-ann", "reject", expect=403, mentions="already completed an instance of 'CAB vote'")
    assert body["status"] == 403
    run.expect_tasks({"cab_vote": {"cab-bob", "cab-cid"}})
    assert run.data == before  # nothing changed: the first vote stands
    assert [e["actor"] for e in run.events() if e["type"] == "completed" and
            e["data"].get("element_id") == "cab_vote"] == ["cab-ann"]


def test_the_requester_may_not_vote_on_their_own_change(start, client, people, cab):
    requester = enrol(client, people, "cab-requester", "practitioner:change", "cab:change")
    run = to_cab(start, as_=requester)
    assert run.data["cab_review"]["seats"] == 3  # the requester holds no seat
    assert requester not in run.data["cab_review"]["members"]
    run.not_visible_to("cab_vote", requester)
    vote(run, requester, "approve", expect=403, mentions="separation of duties")
    assert cab_events(run, "cab.decided") == []
    run.expect_tasks({"cab_vote": set(cab)})


def test_only_cab_members_vote(start, cab):
    run = to_cab(start)
    for outsider in ("change-manager", "change-owner", "change-practitioner-2"):
        vote(run, outsider, "approve", expect=403, mentions="Only a cab of change")
    vote(run, "release-manager", "approve", expect=404)


def test_a_low_risk_change_with_schedule_conflicts_goes_to_the_cab(start, client, people, cab):
    """A low-impact change whose window overlaps another change on the same service: the schedule check
    finds the overlap, the risk table raises the risk to medium, and the conflict sends it to the CAB."""
    start("normal_change", as_="change-practitioner", data=REQUEST)
    run = start("normal_change", as_="change-practitioner-2",
                data={**REQUEST, "planned_start": "2026-01-12T10:00:00Z", "planned_end": "2026-01-12T11:00:00Z"})
    conflicts = run.data["schedule_conflicts"]
    assert [conflict["kind"] for conflict in conflicts] == ["overlap"], conflicts
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    run.expect_data(risk="medium", needs_cab=True)
    run.expect_tasks({"cab_vote": set(cab)})
    [item] = Api(client, people).call("GET", "/api/cab/agenda", as_="cab-ann", step="read the agenda")
    assert (item["business_key"], item["risk"], item["conflicts"]) == (run.business_key, "medium", conflicts)
