"""Every path of the release (bpmn/release/release.bpmn), through the HTTP API.

The release manager plans a release and links the changes it carries; practitioners build and test it until
the tests pass. The deployment gate lets it through only when change management has authorized every linked
change. Another manager than the one who requested the release (or, for a high-impact release, the owner) authorizes
the deployment; practitioners
deploy and verify it, and roll it back when verification fails. Whatever the end, the outcome is written on
the audit trail of every linked change.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.processes.harness import ProcessRun, enrol
from tests.processes.samples import REQUEST, STANDARD_REQUEST, authorized_normal_change, release_plan

MANAGERS = ("release-manager", "release-manager-2")
BUILD_AND_TEST = (
    ("external_task_locked", "release-practitioner", "build_release"),  # the CI worker, with a practitioner's token
    ("external_task_completed", "release-practitioner", "build_release"),
    ("completed", "release-practitioner", "test_release"),
)


def build_and_pass_tests(run: ProcessRun) -> None:
    run.expect_status("waiting")  # for the CI pipeline: "Build release" is an external task
    run.work("build_release", "release-build", as_="release-practitioner", build_version="4.2.0")
    run.expect_tasks({"test_release": "release-practitioner"})
    run.complete("test_release", as_="release-practitioner", test_result="passed")


def expect_outcome_on(change: ProcessRun, release: ProcessRun, outcome: str) -> None:
    """The change's own audit trail ends with the release's outcome, written by whoever ended the release."""
    last = change.events(as_="change-manager")[-1]
    assert (last["type"], last["data"]) == (
        "release_outcome", {"release": release.business_key, "source": release.business_key, "outcome": outcome}
    ), last


def linked_changes(start: Any) -> tuple[ProcessRun, ProcessRun]:
    """An authorized normal change (waiting for its planned start) and a standard change (pre-authorized)."""
    normal = authorized_normal_change(start)
    standard = start("standard_change", as_="change-practitioner", data=STANDARD_REQUEST)
    standard.expect_data(authorized=True)
    return normal, standard


@pytest.mark.parametrize(("impact", "authorize", "authority"), [
    ("low", "authorize_deployment", "release-manager-2"),
    ("medium", "authorize_deployment", "release-manager-2"),
    ("high", "authorize_deployment_high_impact", "release-owner"),
])
def test_release_is_built_until_tests_pass_authorized_deployed_verified_and_closed(start, impact, authorize,
                                                                                   authority):
    normal, standard = linked_changes(start)
    keys = [normal.business_key, standard.business_key]
    run = start("release", as_="release-manager", data=release_plan(*keys, impact=impact))
    run.expect_status("waiting")  # for the CI worker to build it
    run.expect_data(change_keys=keys, impact=impact)

    for attempt in ("4.2.0-rc1", "4.2.0-rc2"):  # the tests fail twice: back to the build each time
        run.expect_tasks({})
        run.work("build_release", "release-build", as_="release-practitioner", build_version=attempt)
        run.expect_tasks({"test_release": "release-practitioner"})
        problem = run.complete("test_release", as_="release-practitioner", test_result="failed", expect=422)
        assert "test_notes" in problem["errors"], problem
        run.complete("test_release", as_="release-practitioner", test_result="failed",
                     test_notes=f"{attempt}: invoices round wrongly.")
        run.expect_data(build_version=attempt, test_result="failed")
    build_and_pass_tests(run)
    run.expect_data(build_version="4.2.0", test_result="passed", change_check={
        "all_authorized": True, "problems": [],
        "changes": [{"business_key": key, "exists": True, "status": "waiting", "authorized": True} for key in keys],
    })

    run.expect_tasks({authorize: authority})
    run.complete(authorize, as_=authority, deployment_decision="authorize")
    run.expect_data(deployment_decision="authorize")
    run.expect_tasks({"deploy_release": "release-practitioner"})
    run.complete("deploy_release", as_="release-practitioner", deployed_version="4.2.0")
    run.expect_tasks({"verify_deployment": "release-practitioner"})
    run.complete("verify_deployment", as_="release-practitioner", verification_result="success")
    run.expect_tasks({"close_release": MANAGERS})
    run.complete("close_release", as_="release-manager", closure_code="deployed")

    run.expect_status("completed")
    run.expect_tasks({})
    run.expect_data(closure_code="deployed", outcome="deployed", outcome_record={"recorded": keys})
    run.expect_trail(
        ("started", "release-manager"),
        *BUILD_AND_TEST * 3,
        ("completed", authority, authorize),
        ("completed", "release-practitioner", "deploy_release"),
        ("completed", "release-practitioner", "verify_deployment"),
        ("completed", "release-manager", "close_release"),
        ("instance_completed", "release-manager"),
    )
    for change in (normal, standard):
        expect_outcome_on(change, run, "deployed")
    normal.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("completed", "change-manager", "authorize_change"),
        ("release_outcome", "release-manager"),
        as_="change-manager",
    )


def test_release_blocked_by_a_change_in_assessment_passes_the_gate_once_it_is_authorized(start):
    pending = start("normal_change", as_="change-practitioner", data=REQUEST)
    run = start("release", as_="release-manager", data=release_plan(pending.business_key))
    build_and_pass_tests(run)

    blocked = {"all_authorized": False, "problems": [f"{pending.business_key} is not authorized (status running)"],
               "changes": [{"business_key": pending.business_key, "exists": True, "status": "running",
                            "authorized": False}]}
    run.expect_data(change_check=blocked)
    run.expect_tasks({"resolve_unauthorized_changes": MANAGERS})
    run.complete("resolve_unauthorized_changes", as_="release-manager", blocked_action="recheck",
                 blocked_notes="Asked change management.")
    run.expect_data(change_check=blocked)  # still in assessment: blocked again
    run.expect_tasks({"resolve_unauthorized_changes": MANAGERS})

    pending.complete("assess_change", as_="change-manager", assessment_decision="accept")
    pending.complete("authorize_change", as_="change-manager", authorization_decision="authorize")
    run.complete("resolve_unauthorized_changes", as_="release-manager", blocked_action="recheck")
    run.expect_data(change_check={
        "all_authorized": True, "problems": [],
        "changes": [{"business_key": pending.business_key, "exists": True, "status": "waiting", "authorized": True}],
    })
    run.expect_tasks({"authorize_deployment": "release-manager-2"})
    run.expect_trail(
        ("started", "release-manager"),
        *BUILD_AND_TEST,
        ("completed", "release-manager", "resolve_unauthorized_changes"),
        ("completed", "release-manager", "resolve_unauthorized_changes"),
    )


def test_release_blocked_by_an_unknown_change_is_cancelled(start):
    _normal, standard = linked_changes(start)
    keys = [standard.business_key, "CHG-000999"]
    run = start("release", as_="release-manager", data=release_plan(*keys))
    build_and_pass_tests(run)
    run.expect_data(change_check={
        "all_authorized": False, "problems": ["CHG-000999 is not a change"],
        "changes": [{"business_key": standard.business_key, "exists": True, "status": "waiting", "authorized": True},
                    {"business_key": "CHG-000999", "exists": False, "status": None, "authorized": False}],
    })
    run.expect_tasks({"resolve_unauthorized_changes": MANAGERS})
    run.complete("resolve_unauthorized_changes", as_="release-manager", blocked_action="cancel",
                 blocked_notes="CHG-000999 was a typo; replanning.")

    run.expect_status("completed")
    run.expect_tasks({})
    run.expect_data(blocked_action="cancel", outcome="cancelled", outcome_record={"recorded": [standard.business_key]})
    assert "deployment_decision" not in run.data
    run.expect_trail(
        ("started", "release-manager"),
        *BUILD_AND_TEST,
        ("completed", "release-manager", "resolve_unauthorized_changes"),
        ("instance_completed", "release-manager"),
    )
    expect_outcome_on(standard, run, "cancelled")


@pytest.mark.parametrize(("impact", "authorize", "authority"), [
    ("medium", "authorize_deployment", "release-manager-2"),
    ("high", "authorize_deployment_high_impact", "release-owner"),
])
def test_rejected_deployment_ends_the_release(start, impact, authorize, authority):
    normal, standard = linked_changes(start)
    run = start("release", as_="release-manager",
                data=release_plan(normal.business_key, standard.business_key, impact=impact))
    build_and_pass_tests(run)
    run.expect_tasks({authorize: authority})
    problem = run.complete(authorize, as_=authority, deployment_decision="reject", expect=422)
    assert "deployment_notes" in problem["errors"], problem
    run.complete(authorize, as_=authority, deployment_decision="reject", deployment_notes="Month-end freeze.")

    run.expect_status("completed")
    run.expect_tasks({})
    run.expect_data(deployment_decision="reject", outcome="rejected",
                    outcome_record={"recorded": [normal.business_key, standard.business_key]})
    run.expect_trail(
        ("started", "release-manager"),
        *BUILD_AND_TEST,
        ("completed", authority, authorize),
        ("instance_completed", authority),
    )
    for change in (normal, standard):
        expect_outcome_on(change, run, "rejected")


def test_failed_verification_is_rolled_back_reviewed_and_closed(start):
    normal, _standard = linked_changes(start)
    run = start("release", as_="release-manager", data=release_plan(normal.business_key))
    build_and_pass_tests(run)
    run.complete("authorize_deployment", as_="release-manager-2", deployment_decision="authorize")
    run.complete("deploy_release", as_="release-practitioner", deployed_version="4.2.0")
    problem = run.complete("verify_deployment", as_="release-practitioner", verification_result="failed", expect=422)
    assert "verification_notes" in problem["errors"], problem
    run.complete("verify_deployment", as_="release-practitioner", verification_result="failed",
                 verification_notes="Invoices stopped going out.")

    run.expect_tasks({"roll_back_release": "release-practitioner"})
    run.complete("roll_back_release", as_="release-practitioner", rollback_notes="Redeployed 4.1.3.")
    run.expect_tasks({"review_failed_release": MANAGERS})
    run.complete("review_failed_release", as_="release-manager", review_findings="No invoice run in staging.",
                 follow_up_actions="Add an invoice run to the release tests.")
    run.expect_tasks({"close_release": MANAGERS})
    run.complete("close_release", as_="release-manager", closure_code="rolled_back")

    run.expect_status("completed")
    run.expect_data(verification_result="failed", rollback_notes="Redeployed 4.1.3.", closure_code="rolled_back",
                    outcome="rolled_back", outcome_record={"recorded": [normal.business_key]})
    run.expect_trail(
        ("started", "release-manager"),
        *BUILD_AND_TEST,
        ("completed", "release-manager-2", "authorize_deployment"),
        ("completed", "release-practitioner", "deploy_release"),
        ("completed", "release-practitioner", "verify_deployment"),
        ("completed", "release-practitioner", "roll_back_release"),
        ("completed", "release-manager", "review_failed_release"),
        ("completed", "release-manager", "close_release"),
        ("instance_completed", "release-manager"),
    )
    expect_outcome_on(normal, run, "rolled_back")



def test_the_manager_who_requested_a_release_may_not_authorize_its_deployment(start):
    normal, _standard = linked_changes(start)
    run = start("release", as_="release-manager", data=release_plan(normal.business_key, impact="medium"))
    build_and_pass_tests(run)

    run.expect_tasks({"authorize_deployment": "release-manager-2"})  # the requester does not even see it
    problem = run.complete("authorize_deployment", as_="release-manager", deployment_decision="authorize",
                           expect=403, mentions=f"release-manager requested {run.business_key}")
    assert problem["type"] == "urn:changeflow:problem:separation-of-duties", problem
    run.claim("authorize_deployment", as_="release-manager", expect=403)
    run.complete("authorize_deployment", as_="release-manager-2", deployment_decision="authorize")
    run.expect_tasks({"deploy_release": "release-practitioner"})


def test_an_owner_who_requested_a_high_impact_release_may_not_authorize_its_deployment(start, client, people):
    lead = enrol(client, people, "release-lead", "manager:release", "owner:release")
    normal, _standard = linked_changes(start)
    run = start("release", as_=lead, data=release_plan(normal.business_key, impact="high"))
    build_and_pass_tests(run)

    run.expect_tasks({"authorize_deployment_high_impact": "release-owner"})
    problem = run.complete("authorize_deployment_high_impact", as_=lead, deployment_decision="authorize",
                           expect=403, mentions=f"{lead} requested {run.business_key}")
    assert problem["type"] == "urn:changeflow:problem:separation-of-duties", problem
    run.complete("authorize_deployment_high_impact", as_="release-owner", deployment_decision="authorize")
    run.expect_tasks({"deploy_release": "release-practitioner"})
