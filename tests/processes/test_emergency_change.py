"""Every path of the emergency change (bpmn/change/emergency_change.bpmn), through the HTTP API.

The change owner authorizes at once (due in two hours), practitioners implement, and every emergency
change gets a post-implementation review by the change manager before it is closed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.processes.harness import enrol
from tests.processes.samples import EMERGENCY_REQUEST, iso

PRACTITIONERS = ("change-practitioner", "change-practitioner-2")


@pytest.mark.parametrize("outcome", ["successful", "failed"])
def test_emergency_change_is_authorized_by_the_owner_implemented_reviewed_and_closed(start, outcome):
    run = start("emergency_change", as_="change-practitioner", data=EMERGENCY_REQUEST)
    run.expect_status("running")
    run.expect_data(incident_reference="INC-004711", category="security")
    run.expect_tasks({"authorize_emergency_change": "change-owner"})
    assert run.task("authorize_emergency_change")["due_at"] == iso(run.now() + timedelta(hours=2))
    run.complete("authorize_emergency_change", as_="change-manager", authorization_decision="authorize", expect=403)
    run.complete("authorize_emergency_change", as_="change-owner", authorization_decision="authorize")
    run.expect_data(authorized=True, authorization_decision="authorize")

    run.expect_tasks({"implement_change": PRACTITIONERS})
    notes = None if outcome == "successful" else "The rule blocked every login."
    run.complete("implement_change", as_="change-practitioner", implementation_outcome=outcome,
                 implementation_notes=notes)
    run.expect_data(implementation_outcome=outcome, implementation_notes=notes)

    run.expect_tasks({"post_implementation_review": "change-manager"})
    run.complete("post_implementation_review", as_="change-manager", review_findings="Justified emergency.")
    run.expect_data(review_findings="Justified emergency.", follow_up_actions=None)
    run.expect_tasks({"close_change": "change-manager"})
    run.complete("close_change", as_="change-manager", closure_code=outcome)

    run.expect_status("completed")
    run.expect_tasks({})
    run.expect_data(closure_code=outcome, authorized=True)
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-owner", "authorize_emergency_change"),
        ("completed", "change-practitioner", "implement_change"),
        ("completed", "change-manager", "post_implementation_review"),
        ("completed", "change-manager", "close_change"),
        ("instance_completed", "change-manager"),
    )


def test_rejected_emergency_change_ends(start):
    run = start("emergency_change", as_="change-practitioner", data=EMERGENCY_REQUEST)
    problem = run.complete("authorize_emergency_change", as_="change-owner", authorization_decision="reject",
                           expect=422)
    assert "authorization_notes" in problem["errors"], problem
    run.complete("authorize_emergency_change", as_="change-owner", authorization_decision="reject",
                 authorization_notes="Not an emergency: raise a normal change.")

    run.expect_status("completed")
    run.expect_tasks({})
    run.expect_data(closure_code="rejected", authorization_decision="reject")
    assert "authorized" not in run.data
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-owner", "authorize_emergency_change"),
        ("instance_completed", "change-owner"),
    )


def test_an_owner_may_not_authorize_their_own_emergency_change(start, client, people):
    chief = enrol(client, people, "change-chief", "practitioner:change", "owner:change")
    run = start("emergency_change", as_=chief, data=EMERGENCY_REQUEST)

    run.expect_tasks({"authorize_emergency_change": "change-owner"})
    run.not_visible_to("authorize_emergency_change", chief)
    run.complete("authorize_emergency_change", as_=chief, authorization_decision="authorize", expect=403,
                 mentions="separation of duties")
    run.claim("authorize_emergency_change", as_=chief, expect=403, mentions="separation of duties")
    assert "authorized" not in run.data

    run.complete("authorize_emergency_change", as_="change-owner", authorization_decision="authorize")
    run.expect_data(authorized=True)
    run.expect_tasks({"implement_change": (*PRACTITIONERS, chief)})
    run.expect_trail(
        ("started", chief),
        ("completed", "change-owner", "authorize_emergency_change"),
    )
