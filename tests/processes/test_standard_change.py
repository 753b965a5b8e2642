"""Every path of the standard change (bpmn/change/standard_change.bpmn), through the HTTP API.

A standard change follows a pre-authorized model: no assessment, no authorization. Practitioners raise it,
implement it at its planned start and close it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.processes.samples import PLANNED_START, STANDARD_REQUEST, STANDARD_REQUEST_NOW, iso

PRACTITIONERS = ("change-practitioner", "change-practitioner-2")


def test_standard_change_is_pre_authorized_and_waits_for_its_planned_start(start):
    run = start("standard_change", as_="change-practitioner", data=STANDARD_REQUEST)
    run.expect_status("waiting")
    run.expect_tasks({})
    run.expect_data(authorized=True, risk="low", standard_model="server_patching",
                    planned_start=iso(PLANNED_START))
    assert run.instance()["next_timer_at"] == iso(PLANNED_START)

    run.advance(to=PLANNED_START - timedelta(minutes=1))
    run.expect_status("waiting")
    run.expect_tasks({})
    run.advance(minutes=1)
    run.expect_status("running")
    run.expect_tasks({"implement_change": PRACTITIONERS})

    run.complete("implement_change", as_="change-practitioner-2", implementation_outcome="successful")
    run.expect_tasks({"close_change": PRACTITIONERS})
    run.complete("close_change", as_="change-practitioner", closure_code="successful")
    run.expect_status("completed")
    run.expect_tasks({})
    run.expect_data(implementation_outcome="successful", closure_code="successful", authorized=True)
    run.expect_trail(
        ("started", "change-practitioner"),
        ("timer_fired", "system", "wait_for_planned_start"),
        ("completed", "change-practitioner-2", "implement_change"),
        ("completed", "change-practitioner", "close_change"),
        ("instance_completed", "change-practitioner"),
    )


@pytest.mark.parametrize(("outcome", "closure_code"), [("failed", "failed"), ("backed_out", "backed_out")])
def test_unsuccessful_standard_change_is_closed_with_its_outcome(start, outcome, closure_code):
    run = start("standard_change", as_="change-practitioner", data=STANDARD_REQUEST_NOW)
    # Planned to start now: the implementation opens at once.
    run.expect_status("running")
    run.expect_data(authorized=True, risk="low")
    run.expect_tasks({"implement_change": PRACTITIONERS})
    problem = run.complete("implement_change", as_="change-practitioner", implementation_outcome=outcome, expect=422)
    assert "implementation_notes" in problem["errors"], problem
    run.complete("implement_change", as_="change-practitioner", implementation_outcome=outcome,
                 implementation_notes="The patch broke the kernel module.")

    run.expect_tasks({"close_change": PRACTITIONERS})
    run.complete("close_change", as_="change-practitioner-2", closure_code=closure_code,
                 closure_notes="Rolled back to the previous kernel.")
    run.expect_status("completed")
    run.expect_data(implementation_outcome=outcome, closure_code=closure_code)
    run.expect_trail(
        ("started", "change-practitioner"),
        ("timer_fired", "system", "wait_for_planned_start"),  # planned to start at once
        ("completed", "change-practitioner", "implement_change"),
        ("completed", "change-practitioner-2", "close_change"),
        ("instance_completed", "change-practitioner-2"),
    )


def test_a_standard_change_is_on_the_schedule_as_authorized_and_others_see_it(start, client, people):
    """Pre-approved does not mean invisible: the calendar shows it, and a normal change planned over it on the
    same service gets the overlap as a conflict."""
    from tests.processes.harness import Api
    from tests.processes.samples import REQUEST

    standard = start("standard_change", as_="change-practitioner", data=STANDARD_REQUEST)
    standard.expect_data(schedule_conflicts=[])
    api = Api(client, people)
    listed = api.call("GET", "/api/schedule", as_="change-manager", step="read the schedule",
                      query={"from": "2026-01-12T00:00:00Z", "to": "2026-01-13T00:00:00Z"})
    assert [(entry["business_key"], entry["service"], entry["state"]) for entry in listed] == [
        (standard.business_key, "billing", "authorized")], listed
    normal = start("normal_change", as_="change-practitioner-2", data=REQUEST)  # billing, 09:00-13:00 that day
    assert [(conflict["kind"], conflict["with"]) for conflict in normal.data["schedule_conflicts"]] == [
        ("overlap", standard.business_key)], normal.data
