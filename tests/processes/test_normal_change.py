"""Every path of the normal change (bpmn/change/normal_change.bpmn), through the HTTP API.

Lanes: the change manager assesses and authorizes low and medium risks, the change owner authorizes high
risks and handles overdue authorizations, practitioners raise, rework and implement. Nobody may authorize a
change they requested.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.processes.harness import enrol
from tests.processes.samples import HIGH_RISK_REQUEST, PLANNED_START, REQUEST, REQUEST_NOW, REWORK, iso

PRACTITIONERS = ("change-practitioner", "change-practitioner-2")

def test_low_risk_change_is_assessed_authorized_by_the_manager_implemented_and_closed(start):
    run = start("normal_change", as_="change-practitioner", data=REQUEST_NOW)
    run.expect_status("running")
    run.expect_data(risk="low", impact="low", likelihood="low", planned_start="2026-01-05T09:00:00+00:00")
    run.expect_tasks({"assess_change": "change-manager"})
    run.complete("assess_change", as_="release-manager", assessment_decision="accept", expect=404)
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    run.expect_data(assessment_decision="accept", assessment_notes=None)

    run.expect_tasks({"authorize_change": "change-manager"})
    run.not_visible_to("authorize_change", "change-practitioner", "change-owner")
    run.complete("authorize_change", as_="change-practitioner-2", authorization_decision="authorize", expect=403,
                 mentions="Only a manager of change")
    run.complete("authorize_change", as_="change-manager", authorization_decision="authorize")
    run.expect_data(authorization_decision="authorize", authorized=True)

    # Planned to start at once, so the implementation opens as soon as the change is authorized.
    run.expect_tasks({"implement_change": PRACTITIONERS})
    run.complete("implement_change", as_="change-practitioner-2", implementation_outcome="successful")
    run.expect_data(implementation_outcome="successful", implementation_notes=None)
    run.expect_tasks({"close_change": "change-manager"})
    run.complete("close_change", as_="change-manager", closure_code="successful", closure_notes="Smooth.")

    run.expect_status("completed")
    run.expect_tasks({})
    run.expect_data(closure_code="successful", closure_notes="Smooth.", authorized=True, risk="low")
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("completed", "change-manager", "authorize_change"),
        ("timer_fired", "system", "wait_for_planned_start"),
        ("completed", "change-practitioner-2", "implement_change"),
        ("completed", "change-manager", "close_change"),
        ("instance_completed", "change-manager"),
    )


def test_high_risk_change_is_authorized_by_the_owner_when_the_cab_has_no_quorum(start):
    # A high-risk change goes to the CAB; this practice has no CAB members, so the vote has no seats, closes
    # at once without its quorum, and escalates to the owner (tests/processes/test_normal_change_cab.py votes).
    run = start("normal_change", as_="change-practitioner", data=HIGH_RISK_REQUEST)
    run.expect_data(risk="high")
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    assert run.data["cab_result"]["outcome"] == "no_quorum"

    run.expect_tasks({"authorize_high_risk_change": "change-owner"})
    run.complete("authorize_high_risk_change", as_="change-manager", authorization_decision="authorize",
                 expect=403, mentions="Only an owner of change")
    run.complete("authorize_high_risk_change", as_="change-owner", authorization_decision="authorize")
    run.expect_data(authorized=True, authorization_decision="authorize")

    run.expect_tasks({"implement_change": PRACTITIONERS})
    run.complete("implement_change", as_="change-practitioner", implementation_outcome="successful")
    run.complete("close_change", as_="change-manager", closure_code="successful_with_issues",
                 closure_notes="Slow switch-over.")
    run.expect_status("completed")
    run.expect_data(closure_code="successful_with_issues", risk="high")
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("cab.opened", "change-manager"),
        ("cab.decided", "change-manager"),
        ("completed", "change-owner", "authorize_high_risk_change"),
        ("timer_fired", "system", "wait_for_planned_start"),
        ("completed", "change-practitioner", "implement_change"),
        ("completed", "change-manager", "close_change"),
        ("instance_completed", "change-manager"),
    )


def test_rework_after_assessment_recomputes_the_risk(start):
    run = start("normal_change", as_="change-practitioner",
                data={**REQUEST_NOW, "impact": "high", "likelihood": "high"})
    run.expect_data(risk="high")
    problem = run.complete("assess_change", as_="change-manager", assessment_decision="rework", expect=422)
    assert "assessment_notes" in problem["errors"], problem
    run.complete("assess_change", as_="change-manager", assessment_decision="rework",
                 assessment_notes="Deploy to one replica first; that lowers the impact.")

    # The rework is assigned to the requester: no other practitioner sees it.
    run.expect_tasks({"rework_request_for_change": "change-practitioner"})
    assert run.task("rework_request_for_change")["assignee"] == "change-practitioner"
    run.expect_data(assessment_decision="rework", risk="high")
    run.complete("rework_request_for_change", as_="change-practitioner",
                 data={**REWORK, "impact": "low", "likelihood": "medium", "title": "Upgrade one replica first"})
    run.expect_data(risk="low", impact="low", likelihood="medium", rework_decision="resubmit",
                    title="Upgrade one replica first")

    run.expect_tasks({"assess_change": "change-manager"})
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    run.expect_tasks({"authorize_change": "change-manager"})  # the manager now, not the owner
    run.complete("authorize_change", as_="change-manager", authorization_decision="authorize")
    run.complete("implement_change", as_="change-practitioner", implementation_outcome="successful")
    run.complete("close_change", as_="change-manager", closure_code="successful")
    run.expect_status("completed")
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("completed", "change-practitioner", "rework_request_for_change"),
        ("completed", "change-manager", "assess_change"),
        ("completed", "change-manager", "authorize_change"),
        ("timer_fired", "system", "wait_for_planned_start"),
        ("completed", "change-practitioner", "implement_change"),
        ("completed", "change-manager", "close_change"),
        ("instance_completed", "change-manager"),
    )


def test_rejected_assessment_ends_the_change(start):
    run = start("normal_change", as_="change-practitioner", data=REQUEST)
    problem = run.complete("assess_change", as_="change-manager", assessment_decision="reject", expect=422)
    assert "assessment_notes" in problem["errors"], problem
    run.complete("assess_change", as_="change-manager", assessment_decision="reject",
                 assessment_notes="Billing is frozen until the audit ends.")

    run.expect_status("completed")
    run.expect_tasks({})
    run.expect_data(closure_code="rejected", assessment_decision="reject",
                    assessment_notes="Billing is frozen until the audit ends.")
    assert "authorized" not in run.data
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("instance_completed", "change-manager"),
    )


def test_rejected_authorization_goes_back_to_the_requester_who_cancels(start):
    run = start("normal_change", as_="change-practitioner", data=REQUEST)
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    problem = run.complete("authorize_change", as_="change-manager", authorization_decision="reject", expect=422)
    assert "authorization_notes" in problem["errors"], problem
    run.complete("authorize_change", as_="change-manager", authorization_decision="reject",
                 authorization_notes="No back-out test.")
    run.expect_data(authorization_decision="reject", authorization_notes="No back-out test.")
    assert "authorized" not in run.data

    run.expect_tasks({"rework_request_for_change": "change-practitioner"})
    run.complete("rework_request_for_change", as_="change-practitioner", data={**REQUEST, "rework_decision": "cancel"})

    run.expect_status("completed")
    run.expect_tasks({})
    run.expect_data(closure_code="cancelled", rework_decision="cancel")
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("completed", "change-manager", "authorize_change"),
        ("completed", "change-practitioner", "rework_request_for_change"),
        ("instance_completed", "change-practitioner"),
    )


@pytest.mark.parametrize(("request_data", "authorize", "authorizer", "sla_hours", "timer"), [
    (REQUEST_NOW, "authorize_change", "change-manager", 48, "authorization_overdue"),
    (HIGH_RISK_REQUEST, "authorize_high_risk_change", "change-owner", 24, "high_risk_authorization_overdue"),
])
def test_overdue_authorization_is_escalated_to_the_owner(start, request_data, authorize, authorizer, sla_hours,
                                                         timer):
    run = start("normal_change", as_="change-practitioner", data=request_data)
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    assert run.task(authorize)["due_at"] == iso(run.now() + timedelta(hours=sla_hours))

    run.advance(hours=sla_hours - 1)
    run.expect_tasks({authorize: authorizer})
    run.advance(hours=2)
    # The escalation opens for the owner, and the authorization stays open.
    run.expect_tasks({authorize: authorizer, "escalate_overdue_authorization": "change-owner"})
    run.expect_status("running")

    if authorizer == "change-manager":  # escalate first, then authorize
        run.complete("escalate_overdue_authorization", as_="change-owner", escalation_action="reminded")
        run.expect_tasks({authorize: authorizer})
        run.complete(authorize, as_=authorizer, authorization_decision="authorize")
        run.expect_tasks({"implement_change": PRACTITIONERS})
    else:  # authorize first: the change moves on while the escalation is still open
        run.complete(authorize, as_=authorizer, authorization_decision="authorize")
        run.expect_tasks({"implement_change": PRACTITIONERS, "escalate_overdue_authorization": "change-owner"})
        run.complete("escalate_overdue_authorization", as_="change-owner", escalation_action="expedited",
                     escalation_notes="Called the owner's deputy.")
    run.expect_data(authorized=True)
    run.complete("implement_change", as_="change-practitioner", implementation_outcome="successful")
    run.complete("close_change", as_="change-manager", closure_code="successful")
    run.expect_status("completed")
    completions = [("completed", "change-owner", "escalate_overdue_authorization"),
                   ("completed", authorizer, authorize), ("timer_fired", "system", "wait_for_planned_start")]
    cab: list[tuple[str, str]] = []
    if authorizer == "change-owner":  # authorized first: the planned start had passed, so it fired at once
        completions = completions[1:] + completions[:1]
        cab = [("cab.opened", "change-manager"), ("cab.decided", "change-manager")]  # no CAB members: no quorum
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        *cab,
        ("timer_fired", "system", timer),
        *completions,
        ("completed", "change-practitioner", "implement_change"),
        ("completed", "change-manager", "close_change"),
        ("instance_completed", "change-manager"),
    )


def test_implementation_waits_for_the_planned_start(start):
    run = start("normal_change", as_="change-practitioner", data=REQUEST)
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    run.complete("authorize_change", as_="change-manager", authorization_decision="authorize")

    run.expect_status("waiting")
    run.expect_tasks({})
    run.expect_data(authorized=True)
    assert run.instance()["next_timer_at"] == iso(PLANNED_START)

    run.advance(to=PLANNED_START - timedelta(minutes=1))
    run.expect_status("waiting")
    run.expect_tasks({})
    run.advance(minutes=1)
    run.expect_status("running")
    run.expect_tasks({"implement_change": PRACTITIONERS})

    run.complete("implement_change", as_="change-practitioner", implementation_outcome="successful")
    run.complete("close_change", as_="change-manager", closure_code="successful")
    run.expect_status("completed")
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("completed", "change-manager", "authorize_change"),
        ("timer_fired", "system", "wait_for_planned_start"),
        ("completed", "change-practitioner", "implement_change"),
        ("completed", "change-manager", "close_change"),
        ("instance_completed", "change-manager"),
    )


def test_a_change_that_ends_withdraws_its_open_escalation(start):
    """The ends of the normal change terminate it: an escalation nobody handled is withdrawn, not left open."""
    rejected = start("normal_change", as_="change-practitioner", data=REQUEST)
    rejected.complete("assess_change", as_="change-manager", assessment_decision="accept")
    rejected.advance(hours=49)
    rejected.complete("authorize_change", as_="change-manager", authorization_decision="reject",
                      authorization_notes="Overdue and under-specified.")
    rejected.expect_tasks({"rework_request_for_change": "change-practitioner",
                           "escalate_overdue_authorization": "change-owner"})
    rejected.complete("rework_request_for_change", as_="change-practitioner",
                      data={**REQUEST, "rework_decision": "cancel"})
    rejected.expect_status("completed")
    rejected.expect_tasks({})
    rejected.expect_data(closure_code="cancelled")
    assert [t["element_id"] for t in rejected.tasks("cancelled")] == ["escalate_overdue_authorization"]
    rejected.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("timer_fired", "system", "authorization_overdue"),
        ("completed", "change-manager", "authorize_change"),
        ("completed", "change-practitioner", "rework_request_for_change"),
        ("instance_completed", "change-practitioner"),
    )

    # 49 hours on, the request's window is that much later: a planned start in the past is refused
    closed = start("normal_change", as_="change-practitioner", data={
        **HIGH_RISK_REQUEST, "planned_start": "2026-01-07T10:00:00Z", "planned_end": "2026-01-07T14:00:00Z"})
    closed.complete("assess_change", as_="change-manager", assessment_decision="accept")
    closed.advance(hours=25)
    closed.complete("authorize_high_risk_change", as_="change-owner", authorization_decision="authorize")
    closed.complete("implement_change", as_="change-practitioner", implementation_outcome="successful")
    closed.expect_tasks({"close_change": "change-manager", "escalate_overdue_authorization": "change-owner"})
    closed.complete("close_change", as_="change-manager", closure_code="successful")
    closed.expect_status("completed")
    closed.expect_tasks({})
    assert [t["element_id"] for t in closed.tasks("cancelled")] == ["escalate_overdue_authorization"]


@pytest.mark.parametrize("implementation_outcome", ["failed", "backed_out"])
def test_unsuccessful_implementation_is_reviewed_before_closure(start, implementation_outcome):
    outcome = implementation_outcome
    run = start("normal_change", as_="change-practitioner", data=REQUEST_NOW)
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    run.complete("authorize_change", as_="change-manager", authorization_decision="authorize")
    problem = run.complete("implement_change", as_="change-practitioner", implementation_outcome=outcome, expect=422)
    assert "implementation_notes" in problem["errors"], problem
    run.complete("implement_change", as_="change-practitioner", implementation_outcome=outcome,
                 implementation_notes="The replica did not come back.")
    run.expect_data(implementation_outcome=outcome, implementation_notes="The replica did not come back.")

    run.expect_tasks({"post_implementation_review": "change-manager"})
    run.complete("post_implementation_review", as_="change-manager", review_findings="Untested upgrade path.",
                 follow_up_actions="Rehearse on staging.", lessons_learned="Rehearse first.")
    run.expect_data(review_findings="Untested upgrade path.")
    run.expect_tasks({"close_change": "change-manager"})
    run.complete("close_change", as_="change-manager", closure_code=outcome)

    run.expect_status("completed")
    run.expect_data(closure_code=outcome)
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("completed", "change-manager", "authorize_change"),
        ("timer_fired", "system", "wait_for_planned_start"),
        ("completed", "change-practitioner", "implement_change"),
        ("completed", "change-manager", "post_implementation_review"),
        ("completed", "change-manager", "close_change"),
        ("instance_completed", "change-manager"),
    )


@pytest.mark.parametrize(("grant", "request_data", "authorize", "authority"), [
    ("manager:change", REQUEST_NOW, "authorize_change", "change-manager"),
    ("owner:change", HIGH_RISK_REQUEST, "authorize_high_risk_change", "change-owner"),
])
def test_the_requester_may_not_authorize_their_own_change(start, client, people, grant, request_data, authorize,
                                                           authority):
    lead = enrol(client, people, "change-lead", "practitioner:change", grant)
    run = start("normal_change", as_=lead, data=request_data)
    assessors = {"change-manager", lead} if grant == "manager:change" else {"change-manager"}
    run.expect_tasks({"assess_change": assessors})  # assessing one's own change is allowed
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")

    run.expect_tasks({authorize: authority})
    run.not_visible_to(authorize, lead)
    run.complete(authorize, as_=lead, authorization_decision="authorize", expect=403, mentions="separation of duties")
    run.claim(authorize, as_=lead, expect=403, mentions="separation of duties")
    run.expect_tasks({authorize: authority})
    assert "authorized" not in run.data

    run.complete(authorize, as_=authority, authorization_decision="authorize")
    run.expect_data(authorized=True)
    cab = [("cab.opened", "change-manager"), ("cab.decided", "change-manager")] if grant == "owner:change" else []
    run.expect_trail(
        ("started", lead),
        ("completed", "change-manager", "assess_change"),
        *cab,
        ("completed", authority, authorize),
        ("timer_fired", "system", "wait_for_planned_start"),
    )
