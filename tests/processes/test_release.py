"""Every path of the release (bpmn/release/release.bpmn), through the HTTP API.

The release manager plans a release and links the changes it carries: open changes that no other release
carries. Practitioners build and test it until the tests pass. The deployment gate lets it through only when
every linked change is authorized and still open, and not before the latest planned start among them; a
deployment after every change's window has ended is refused with the reason. Another manager than the one who
requested the release (or, for a high-impact release, the owner) authorizes the deployment; practitioners deploy
and verify it, and roll it back when verification fails. Whatever the end, the outcome is written on the audit
trail of every linked change; a release that deployed delivers its changes, which then complete their own
implementation with its outcome instead of implementing a second time.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.processes.harness import Api, ProcessRun, enrol
from tests.processes.samples import (
    EMERGENCY_REQUEST,
    PLANNED_END,
    PLANNED_START,
    REQUEST,
    STANDARD_REQUEST,
    authorized_normal_change,
    release_plan,
)

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


def pass_the_gate_at_the_window(run: ProcessRun) -> None:
    """The changes are authorized, but their window has not come: the release waits for it, then goes on."""
    check = run.data["change_check"]
    assert (check["all_authorized"], check["wait"], check["problems"]) == (True, True, []), check
    assert check["window_start"] == PLANNED_START.isoformat(), check
    run.expect_status("waiting")
    run.expect_tasks({})
    run.advance(to=PLANNED_START)
    check = run.data["change_check"]
    assert (check["all_authorized"], check["wait"], check["problems"]) == (True, False, []), check


def outcomes_on(change: ProcessRun) -> list[dict[str, Any]]:
    """The release outcomes written on the change's own audit trail."""
    return [event["data"] for event in change.events(as_="change-manager") if event["type"] == "release_outcome"]


def expect_outcome_on(change: ProcessRun, release: ProcessRun, outcome: str, *, delivered: bool) -> None:
    found = outcomes_on(change)
    assert len(found) == 1, found
    assert {key: found[0][key] for key in ("release", "source", "outcome", "delivered")} == {
        "release": release.business_key, "source": release.business_key, "outcome": outcome,
        "delivered": delivered}, found


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
    run.expect_data(build_version="4.2.0", test_result="passed")
    assert [(c["business_key"], c["status"], c["authorized"]) for c in run.data["change_check"]["changes"]] == [
        (key, "waiting", True) for key in keys]
    pass_the_gate_at_the_window(run)
    normal.expect_status("waiting")  # at its planned start, the change waits for the release that carries it
    normal.expect_data(delivery={"release": run.business_key, "outcome": None})
    normal.expect_tasks({})

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
        ("timer_fired", "system", "wait_for_change_windows"),
        ("completed", authority, authorize),
        ("completed", "release-practitioner", "deploy_release"),
        ("completed", "release-practitioner", "verify_deployment"),
        ("completed", "release-manager", "close_release"),
        ("instance_completed", "release-manager"),
    )
    for change in (normal, standard):
        expect_outcome_on(change, run, "deployed", delivered=True)
    # the normal change's implementation completed with the release's outcome: it was not implemented again
    normal.expect_data(implementation_outcome="successful", delivered_by=run.business_key)
    normal.expect_tasks({"close_change": "change-manager"})
    assert "implement_change" not in [task["element_id"] for task in normal.tasks("completed") + normal.tasks("open")]
    normal.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("completed", "change-manager", "authorize_change"),
        ("timer_fired", "system", "wait_for_planned_start"),
        ("release_outcome", "release-manager", None),
        ("message_received", "release-manager", "wait_for_release"),
        as_="change-manager",
    )


def test_release_blocked_by_a_change_in_assessment_passes_the_gate_once_it_is_authorized(start):
    pending = start("normal_change", as_="change-practitioner", data=REQUEST)
    run = start("release", as_="release-manager", data=release_plan(pending.business_key))
    build_and_pass_tests(run)

    problems = [f"{pending.business_key} is not authorized (status running)"]
    assert (run.data["change_check"]["all_authorized"], run.data["change_check"]["problems"]) == (False, problems)
    run.expect_tasks({"resolve_unauthorized_changes": MANAGERS})
    run.complete("resolve_unauthorized_changes", as_="release-manager", blocked_action="recheck",
                 blocked_notes="Asked change management.")
    assert run.data["change_check"]["problems"] == problems  # still in assessment: blocked again
    run.expect_tasks({"resolve_unauthorized_changes": MANAGERS})

    pending.complete("assess_change", as_="change-manager", assessment_decision="accept")
    pending.complete("authorize_change", as_="change-manager", authorization_decision="authorize")
    run.complete("resolve_unauthorized_changes", as_="release-manager", blocked_action="recheck")
    pass_the_gate_at_the_window(run)
    run.expect_tasks({"authorize_deployment": "release-manager-2"})
    run.expect_trail(
        ("started", "release-manager"),
        *BUILD_AND_TEST,
        ("completed", "release-manager", "resolve_unauthorized_changes"),
        ("completed", "release-manager", "resolve_unauthorized_changes"),
        ("timer_fired", "system", "wait_for_change_windows"),
    )


def test_planning_refuses_changes_that_do_not_exist_are_not_changes_or_are_not_open(start):
    normal = authorized_normal_change(start)
    other = start("release", as_="release-manager", data=release_plan(normal.business_key))
    rejected = start("normal_change", as_="change-practitioner",
                     data={**REQUEST, "planned_start": "2026-01-13T09:00:00Z", "planned_end": "2026-01-13T10:00:00Z"})
    rejected.complete("assess_change", as_="change-manager", assessment_decision="reject",
                      assessment_notes="Not now.")
    rejected.expect_status("completed")
    problem = ProcessRun.refused(other.api.client, other.api.people, "release",
                                 as_="release-manager", expect=422,
                                 data=release_plan("CHG-000999", rejected.business_key, normal.business_key))
    assert problem["errors"]["change_keys"] == [  # (the form itself refuses keys that are not CHG-nnnnnn)
        "CHG-000999 does not exist.",
        f"{rejected.business_key} is completed: only an open change can be carried by a release.",
        f"{normal.business_key} is already carried by {other.business_key}.",
    ], problem


def test_links_are_amended_while_planning_and_the_release_manager_reads_the_linked_changes(start, client, people):
    first = authorized_normal_change(start)
    second = authorized_normal_change(start, {**REQUEST, "affected_service": "mail"})
    run = start("release", as_="release-manager", data=release_plan(first.business_key))
    api = Api(client, people)
    # the release manager has no role in change, yet reads the changes linked to their release
    api.call("GET", f"/api/instances/{first.id}", as_="release-manager", expect=404)
    linked = api.call("GET", f"/api/releases/{run.business_key}/changes", as_="release-manager")
    assert [change["business_key"] for change in linked] == [first.business_key]
    api.call("GET", f"/api/releases/{run.business_key}/changes", as_="change-practitioner", expect=404)

    api.call("PUT", f"/api/releases/{run.business_key}/changes", as_="release-practitioner", expect=403,
             json_body={"change_keys": [second.business_key]})
    problem = api.call("PUT", f"/api/releases/{run.business_key}/changes", as_="release-manager", expect=422,
                       json_body={"change_keys": ["CHG-000777"]})
    assert problem["errors"]["change_keys"] == ["CHG-000777 does not exist."], problem
    amended = api.call("PUT", f"/api/releases/{run.business_key}/changes", as_="release-manager",
                       json_body={"change_keys": [first.business_key, second.business_key]})
    assert amended == {"change_keys": [first.business_key, second.business_key]}
    linked = api.call("GET", f"/api/releases/{run.business_key}/changes", as_="release-manager")
    assert [change["business_key"] for change in linked] == [first.business_key, second.business_key]
    assert run.events()[-1]["data"]["change_keys"] == [first.business_key, second.business_key]

    build_and_pass_tests(run)
    assert [c["business_key"] for c in run.data["change_check"]["changes"]] == [first.business_key,
                                                                                 second.business_key]
    pass_the_gate_at_the_window(run)
    problem = api.call("PUT", f"/api/releases/{run.business_key}/changes", as_="release-manager", expect=422,
                       json_body={"change_keys": [first.business_key]})
    assert "past planning" in problem["detail"], problem


def test_the_gate_refuses_changes_that_are_closed_or_delivered_and_a_deployment_after_every_window(start, client,
                                                                                                  people):
    normal = authorized_normal_change(start)
    run = start("release", as_="release-manager", data=release_plan(normal.business_key))
    build_and_pass_tests(run)
    run.expect_status("waiting")
    # the window passes while the release waits for it (the worker was down, say): refused, with the reason
    run.advance(to=PLANNED_END)
    check = run.data["change_check"]
    assert check["all_authorized"] is False, check
    assert check["problems"] == [
        "It is 2026-01-12 13:00 UTC, outside the window of every linked change (the last ended 2026-01-12 13:00 "
        "UTC); reschedule the changes or unlink them"], check
    run.expect_tasks({"resolve_unauthorized_changes": MANAGERS})

    # a change cancelled meanwhile (by its manager) leaves the release: the gate finds nothing to deploy
    Api(client, people).call("POST", f"/api/instances/{normal.id}/cancel", as_="change-manager",
                             json_body={"reason": "Superseded."})
    run.complete("resolve_unauthorized_changes", as_="release-manager", blocked_action="recheck")
    assert run.data["change_check"]["problems"] == [
        f"{run.business_key} carries no change (a cancelled change leaves its release); link one while planning, "
        "or cancel the release"], run.data["change_check"]
    run.complete("resolve_unauthorized_changes", as_="release-manager", blocked_action="cancel",
                 blocked_notes="Replanning.")
    run.expect_status("completed")
    run.expect_data(outcome="cancelled", outcome_record={"recorded": []})
    assert outcomes_on(normal) == []  # it had left the release before the release ended


@pytest.mark.parametrize(("impact", "authorize", "authority"), [
    ("medium", "authorize_deployment", "release-manager-2"),
    ("high", "authorize_deployment_high_impact", "release-owner"),
])
def test_rejected_deployment_ends_the_release(start, impact, authorize, authority):
    normal, standard = linked_changes(start)
    run = start("release", as_="release-manager",
                data=release_plan(normal.business_key, standard.business_key, impact=impact))
    build_and_pass_tests(run)
    pass_the_gate_at_the_window(run)
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
        ("timer_fired", "system", "wait_for_change_windows"),
        ("completed", authority, authorize),
        ("instance_completed", authority),
    )
    for change in (normal, standard):
        expect_outcome_on(change, run, "rejected", delivered=False)
    # let go by the rejected release, the normal change implements itself
    normal.expect_tasks({"implement_change": ("change-practitioner", "change-practitioner-2")})


def test_failed_verification_is_rolled_back_reviewed_and_closed(start):
    normal, _standard = linked_changes(start)
    run = start("release", as_="release-manager", data=release_plan(normal.business_key))
    build_and_pass_tests(run)
    pass_the_gate_at_the_window(run)
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
        ("timer_fired", "system", "wait_for_change_windows"),
        ("completed", "release-manager-2", "authorize_deployment"),
        ("completed", "release-practitioner", "deploy_release"),
        ("completed", "release-practitioner", "verify_deployment"),
        ("completed", "release-practitioner", "roll_back_release"),
        ("completed", "release-manager", "review_failed_release"),
        ("completed", "release-manager", "close_release"),
        ("instance_completed", "release-manager"),
    )
    expect_outcome_on(normal, run, "rolled_back", delivered=True)
    # the change's implementation completes as backed out: it goes to its post-implementation review
    normal.expect_data(implementation_outcome="backed_out", delivered_by=run.business_key)
    normal.expect_tasks({"post_implementation_review": "change-manager"})



def test_the_manager_who_requested_a_release_may_not_authorize_its_deployment(start):
    normal, _standard = linked_changes(start)
    run = start("release", as_="release-manager", data=release_plan(normal.business_key, impact="medium"))
    build_and_pass_tests(run)
    pass_the_gate_at_the_window(run)

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
    pass_the_gate_at_the_window(run)

    run.expect_tasks({"authorize_deployment_high_impact": "release-owner"})
    problem = run.complete("authorize_deployment_high_impact", as_=lead, deployment_decision="authorize",
                           expect=403, mentions=f"{lead} requested {run.business_key}")
    assert problem["type"] == "urn:changeflow:problem:separation-of-duties", problem
    run.complete("authorize_deployment_high_impact", as_="release-owner", deployment_decision="authorize")
    run.expect_tasks({"deploy_release": "release-practitioner"})


def test_planning_refuses_an_emergency_change_which_implements_itself(start):
    """The emergency change implements at once: had a release carried it too, it would be implemented twice."""
    emergency = start("emergency_change", as_="change-practitioner", data=EMERGENCY_REQUEST)
    emergency.expect_tasks({"authorize_emergency_change": "change-owner"})
    problem = ProcessRun.refused(emergency.api.client, emergency.api.people, "release", as_="release-manager",
                                 expect=422, data=release_plan(emergency.business_key))
    assert problem["errors"]["change_keys"] == [
        f"{emergency.business_key} is a change of 'emergency_change', whose process implements it itself (it has "
        "no 'check_release_delivery' service task): a release cannot carry it."], problem
