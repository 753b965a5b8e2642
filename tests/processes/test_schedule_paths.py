"""The forward schedule along the shipped processes' paths, through HTTP with the fake clock (issue 13's last gaps).

- An emergency change is on the schedule from the moment it is raised (requested, then authorized, or withdrawn
  when rejected); its conflicts show on its authorization task, yet never hold it up, and it needs no lead time.
- A standard change that a release carries waits for the release instead of implementing itself, and closes
  with the release's result.
- Cancelling a change or a release (``POST /api/instances/{id}/cancel``) takes it off the schedule in the same
  transaction: a cancelled change leaves its releases, a cancelled release lets its changes go.
- The deployment window is checked again as the deployment starts, and "Deploy release" cannot be completed
  once every linked change's window has ended.

See docs/change-schedule.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import icalendar
import pytest
from sqlalchemy import select

from schedule.models import ReleaseLink, ScheduleEntry
from tests.processes.harness import Api, ProcessRun
from tests.processes.samples import (
    CLOCK_START,
    EMERGENCY_REQUEST,
    PLANNED_END,
    REQUEST_NOW,
    STANDARD_REQUEST,
    authorized_normal_change,
    iso,
    release_plan,
)
from tests.processes.test_release import MANAGERS, build_and_pass_tests, pass_the_gate_at_the_window

PRACTITIONERS = ("change-practitioner", "change-practitioner-2")
SUNDAY_NIGHT = [{"days": ["sun"], "start": "02:00", "end": "06:00"}]
OUTSIDE_EVERY_WINDOW = ("It is 2026-01-12 13:00 UTC, outside the window of every linked change (the last ended "
                        "2026-01-12 13:00 UTC); reschedule the changes or unlink them")


def rows(client: Any) -> dict[str, ScheduleEntry]:
    """The schedule's rows by business key, read from the database."""
    with client.application.extensions["changeflow"].database.snapshot() as session:
        found = {row.business_key: row for row in session.scalars(select(ScheduleEntry))}
        session.expunge_all()
        return found


def links(client: Any) -> dict[tuple[str, str], bool]:
    """Every release link: (release, change) -> active."""
    with client.application.extensions["changeflow"].database.snapshot() as session:
        return {(link.release_key, link.change_key): link.active for link in session.scalars(select(ReleaseLink))}


def scheduled(api: Api, *, days: int = 14) -> list[tuple[str, str]]:
    """``GET /api/schedule`` from the clock's start: (business key, state) per entry."""
    listed = api.call("GET", "/api/schedule", as_="change-manager", step="read the schedule",
                      query={"from": iso(CLOCK_START - timedelta(days=1)),
                             "to": iso(CLOCK_START + timedelta(days=days))})
    return [(entry["business_key"], entry["state"]) for entry in listed]


def kinds(conflicts: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return sorted((conflict["kind"], conflict.get("with") or conflict.get("reason")) for conflict in conflicts)


# -- 1. emergency changes are on the forward schedule -------------------------------------------------------------


def test_an_emergency_change_is_scheduled_with_its_conflicts_shown_to_the_authorizer_but_not_held_up(
        start: Any, client: Any, people: Any) -> None:
    api = Api(client, people)
    api.call("PATCH", "/api/services/customer portal", as_="change-owner", json_body={
        "maintenance_windows": SUNDAY_NIGHT}, step="give the portal a maintenance window")
    api.call("POST", "/api/blackouts", as_="change-owner", expect=201, step="freeze the portal", json_body={
        "starts_at": iso(CLOCK_START - timedelta(hours=1)), "ends_at": iso(CLOCK_START + timedelta(days=1)),
        "reason": "Black Friday", "service": "customer portal"})
    other = start("normal_change", as_="change-practitioner-2",
                  data={**REQUEST_NOW, "affected_service": "customer portal"})

    run = start("emergency_change", as_="change-practitioner", data=EMERGENCY_REQUEST)  # no window given: now, 4 h
    run.expect_data(planned_start=iso(CLOCK_START), planned_end=iso(CLOCK_START + timedelta(hours=4)))
    expected = [("blackout", "Black Friday"), ("outside_maintenance", None), ("overlap", other.business_key)]
    assert kinds(run.data["schedule_conflicts"]) == expected, run.data["schedule_conflicts"]
    row = rows(client)[run.business_key]
    assert (row.state.value, row.service, row.starts_at, row.ends_at, row.process_key, row.requested_by) == (
        "requested", "customer portal", CLOCK_START, CLOCK_START + timedelta(hours=4), "emergency_change",
        "change-practitioner")
    assert (run.business_key, "requested") in scheduled(api)

    # the authorizer sees the conflicts on the task, and authorizes all the same: an emergency is expedited
    run.expect_tasks({"authorize_emergency_change": "change-owner"})
    task = api.call("GET", f"/api/tasks/{run.task('authorize_emergency_change')['id']}", as_="change-owner")
    assert kinds(task["schedule_conflicts"]) == expected, task
    run.complete("authorize_emergency_change", as_="change-owner", authorization_decision="authorize")
    run.expect_data(authorized=True)
    run.expect_tasks({"implement_change": PRACTITIONERS})
    assert rows(client)[run.business_key].state.value == "authorized"
    listed = api.call("GET", "/api/schedule", as_="release-practitioner", query={
        "from": iso(CLOCK_START), "to": iso(CLOCK_START + timedelta(days=1)), "service": "customer portal"})
    mine = [entry for entry in listed if entry["business_key"] == run.business_key]
    assert [(e["state"], e["starts_at"], e["ends_at"], e["process"]) for e in mine] == [
        ("authorized", iso(CLOCK_START), iso(CLOCK_START + timedelta(hours=4)), "emergency_change")], listed
    assert kinds(mine[0]["conflicts"]) == expected, mine

    # and in the service's calendar feed
    feed = api.call("POST", "/api/calendar-feeds", as_="change-manager", expect=201,
                    json_body={"service": "customer portal"})
    token = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
    answer = client.get(f"/api/calendar/{token}.ics")
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    uids = [str(event["uid"]).split("@")[0] for event in icalendar.Calendar.from_ical(answer.get_data()).walk("VEVENT")]
    assert run.business_key in uids, uids
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-owner", "authorize_emergency_change"),
    )


def test_a_rejected_emergency_change_leaves_the_schedule_and_a_given_window_needs_no_lead_time(
        start: Any, client: Any, people: Any) -> None:
    api = Api(client, people)
    api.call("PUT", "/api/schedule-policies/emergency_change", as_="change-owner", json_body={
        "lead_time_hours": 48, "exempt": True}, step="a lead time that does not apply to emergencies")
    window = {"planned_start": iso(CLOCK_START - timedelta(minutes=30)),  # it started half an hour ago
              "planned_end": iso(CLOCK_START + timedelta(hours=2))}
    run = start("emergency_change", as_="change-practitioner", data={**EMERGENCY_REQUEST, **window})
    run.expect_data(**window)
    row = rows(client)[run.business_key]
    assert (row.state.value, iso(row.starts_at), iso(row.ends_at)) == ("requested", *window.values())
    refused = ProcessRun.refused(client, people, "emergency_change", as_="change-practitioner", data={
        **EMERGENCY_REQUEST, "planned_start": window["planned_end"], "planned_end": window["planned_start"]})
    assert list(refused["errors"]) == ["planned_end"], refused

    run.complete("authorize_emergency_change", as_="change-owner", authorization_decision="reject",
                 authorization_notes="Not an emergency: raise a normal change.")
    run.expect_status("completed")
    run.expect_data(closure_code="rejected")
    assert rows(client)[run.business_key].state.value == "withdrawn"
    assert run.business_key not in dict(scheduled(api))
    run.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-owner", "authorize_emergency_change"),
        ("instance_completed", "change-owner"),
    )


# -- 2. a standard change that a release carries is delivered by it ------------------------------------------------


def test_a_standard_change_carried_by_a_release_waits_for_it_and_closes_with_its_result(
        start: Any, client: Any, people: Any) -> None:
    standard = start("standard_change", as_="change-practitioner", data=STANDARD_REQUEST)
    release = start("release", as_="release-manager", data=release_plan(standard.business_key))
    assert links(client) == {(release.business_key, standard.business_key): True}
    build_and_pass_tests(release)
    pass_the_gate_at_the_window(release)  # pre-authorized by its model, the standard change passes the gate
    assert [(c["business_key"], c["authorized"]) for c in release.data["change_check"]["changes"]] == [
        (standard.business_key, True)]

    # at its planned start the standard change waits for the release instead of opening "Implement change"
    standard.expect_status("waiting")
    standard.expect_tasks({})
    standard.expect_data(delivery={"release": release.business_key, "outcome": None})
    assert rows(client)[standard.business_key].state.value == "authorized"

    release.complete("authorize_deployment", as_="release-manager-2", deployment_decision="authorize")
    release.complete("deploy_release", as_="release-practitioner", deployed_version="4.2.0")
    release.complete("verify_deployment", as_="release-practitioner", verification_result="success")
    release.complete("close_release", as_="release-manager", closure_code="deployed")
    release.expect_status("completed")

    standard.expect_data(implementation_outcome="successful", delivered_by=release.business_key,
                         implementation_notes=f"Delivered by {release.business_key}")
    standard.expect_tasks({"close_change": PRACTITIONERS})
    standard.complete("close_change", as_="change-practitioner", closure_code="successful")
    standard.expect_status("completed")
    opened = [task["element_id"] for task in standard.tasks("completed") + standard.tasks("cancelled")]
    assert opened == ["close_change"], opened  # never implemented a second time
    row = rows(client)[standard.business_key]
    assert (row.state.value, row.delivered_by, row.outcome) == ("delivered", release.business_key, "successful")
    standard.expect_trail(
        ("started", "change-practitioner"),
        ("timer_fired", "system", "wait_for_planned_start"),
        ("release_outcome", "release-manager", None),
        ("message_received", "release-manager", "wait_for_release"),
        ("completed", "change-practitioner", "close_change"),
        ("instance_completed", "change-practitioner"),
    )


def test_a_standard_change_let_go_by_a_rejected_release_implements_itself(start: Any, client: Any) -> None:
    standard = start("standard_change", as_="change-practitioner", data=STANDARD_REQUEST)
    release = start("release", as_="release-manager", data=release_plan(standard.business_key))
    build_and_pass_tests(release)
    pass_the_gate_at_the_window(release)
    standard.expect_tasks({})
    release.complete("authorize_deployment", as_="release-manager-2", deployment_decision="reject",
                     deployment_notes="Not this month.")
    standard.expect_tasks({"implement_change": PRACTITIONERS})
    assert links(client) == {(release.business_key, standard.business_key): False}
    assert rows(client)[standard.business_key].state.value == "implemented"


# -- 3. a cancel takes the record off the schedule -----------------------------------------------------------------


def test_a_cancelled_change_leaves_the_schedule_and_its_release_in_the_same_transaction(
        start: Any, client: Any, people: Any) -> None:
    api = Api(client, people)
    change = authorized_normal_change(start)
    release = start("release", as_="release-manager", data=release_plan(change.business_key))
    assert rows(client)[change.business_key].state.value == "authorized"

    # only a manager or owner of change cancels it; a refusal changes nothing
    api.call("POST", f"/api/instances/{change.id}/cancel", as_="change-practitioner", expect=403)
    assert rows(client)[change.business_key].state.value == "authorized"
    assert links(client) == {(release.business_key, change.business_key): True}

    body = api.call("POST", f"/api/instances/{change.id}/cancel", as_="change-manager",
                    json_body={"reason": "Superseded by CHG-9."})
    assert (body["business_key"], body["status"], body["tasks"]) == (change.business_key, "cancelled", [])
    row = rows(client)[change.business_key]
    assert (row.state.value, row.outcome) == ("withdrawn", "cancelled")
    assert links(client) == {(release.business_key, change.business_key): False}
    assert change.business_key not in dict(scheduled(api))
    unlinked = [event for event in release.events() if event["type"] == "schedule.change_unlinked"]
    assert [(event["actor"], event["data"]["change"], event["data"]["reason"]) for event in unlinked] == [
        ("change-manager", change.business_key, "cancelled")], unlinked
    change.expect_trail(
        ("started", "change-practitioner"),
        ("completed", "change-manager", "assess_change"),
        ("completed", "change-manager", "authorize_change"),
        ("cancelled", "change-manager"),
        as_="change-manager",
    )
    # the change may now be carried by another release, and is not: it is no longer open
    problem = ProcessRun.refused(client, people, "release", as_="release-manager",
                                 data=release_plan(change.business_key))
    assert problem["errors"]["change_keys"] == [
        f"{change.business_key} is cancelled: only an open change can be carried by a release."], problem


def test_a_cancelled_release_lets_its_changes_go_and_leaves_the_schedule(start: Any, client: Any,
                                                                         people: Any) -> None:
    api = Api(client, people)
    change = authorized_normal_change(start)
    release = start("release", as_="release-manager", data=release_plan(change.business_key))
    build_and_pass_tests(release)
    pass_the_gate_at_the_window(release)
    change.expect_data(delivery={"release": release.business_key, "outcome": None})  # it waits for the release
    change.expect_tasks({})
    assert rows(client)[release.business_key].state.value == "requested"

    body = api.call("POST", f"/api/instances/{release.id}/cancel", as_="release-manager",
                    json_body={"reason": "Vendor pulled the package."})
    assert (body["status"], body["tasks"]) == ("cancelled", [])
    row = rows(client)[release.business_key]
    assert (row.state.value, row.outcome) == ("withdrawn", "cancelled")
    assert links(client) == {(release.business_key, change.business_key): False}
    assert release.business_key not in dict(scheduled(api))
    # let go, the change implements itself: the release's outcome is on its trail, and its implementation opens
    change.expect_tasks({"implement_change": PRACTITIONERS})
    outcome = [event for event in change.events(as_="change-manager") if event["type"] == "release_outcome"]
    assert [(e["actor"], e["data"]["release"], e["data"]["outcome"], e["data"]["delivered"]) for e in outcome] == [
        ("release-manager", release.business_key, "cancelled", False)], outcome
    assert rows(client)[change.business_key].state.value == "implemented"
    release.expect_trail(
        ("started", "release-manager"),
        ("external_task_locked", "release-practitioner", "build_release"),
        ("external_task_completed", "release-practitioner", "build_release"),
        ("completed", "release-practitioner", "test_release"),
        ("timer_fired", "system", "wait_for_change_windows"),
        ("cancelled", "release-manager"),
    )


# -- 4. the deployment keeps to the changes' windows ---------------------------------------------------------------


def test_a_deployment_authorized_after_every_window_ended_is_refused_with_the_reason(start: Any) -> None:
    change = authorized_normal_change(start)
    release = start("release", as_="release-manager", data=release_plan(change.business_key))
    build_and_pass_tests(release)
    pass_the_gate_at_the_window(release)
    release.expect_tasks({"authorize_deployment": "release-manager-2"})
    release.advance(to=PLANNED_END)  # the authorization comes when the window has ended
    release.complete("authorize_deployment", as_="release-manager-2", deployment_decision="authorize")

    check = release.data["change_check"]
    assert (check["all_authorized"], check["problems"]) == (False, [OUTSIDE_EVERY_WINDOW]), check
    release.expect_tasks({"resolve_unauthorized_changes": MANAGERS})
    assert "deploy_release" not in [task["element_id"] for task in release.tasks("cancelled")]
    release.expect_trail(
        ("started", "release-manager"),
        ("external_task_locked", "release-practitioner", "build_release"),
        ("external_task_completed", "release-practitioner", "build_release"),
        ("completed", "release-practitioner", "test_release"),
        ("timer_fired", "system", "wait_for_change_windows"),
        ("completed", "release-manager-2", "authorize_deployment"),
    )


@pytest.mark.parametrize("worker", ["on time", "late"])
def test_the_deploy_task_closes_when_the_last_window_ends(start: Any, client: Any, people: Any, worker: str) -> None:
    change = authorized_normal_change(start)
    release = start("release", as_="release-manager", data=release_plan(change.business_key))
    build_and_pass_tests(release)
    pass_the_gate_at_the_window(release)
    release.complete("authorize_deployment", as_="release-manager-2", deployment_decision="authorize")
    release.expect_tasks({"deploy_release": "release-practitioner"})
    assert release.data["change_check"]["deploy_by"] == iso(PLANNED_END)
    assert release.task("deploy_release")["due_at"] == iso(PLANNED_END)

    if worker == "late":  # the window ended, the timer worker has not come by yet: the deadline still wins
        client.application.extensions["changeflow"].engine.clock.set(PLANNED_END)
        problem = release.complete("deploy_release", as_="release-practitioner", deployed_version="4.2.0",
                                   expect=409, mentions="the timer 'Last window closed' fell due at ")
        assert problem["status"] == 409, problem
        release.expect_tasks({"deploy_release": "release-practitioner"})  # nothing was written
    release.advance(to=PLANNED_END)

    check = release.data["change_check"]
    assert (check["all_authorized"], check["problems"]) == (False, [OUTSIDE_EVERY_WINDOW]), check
    release.expect_tasks({"resolve_unauthorized_changes": MANAGERS})
    assert [task["element_id"] for task in release.tasks("cancelled")] == ["deploy_release"]
    change.expect_tasks({})  # still waiting for the release: nothing was delivered
    release.expect_trail(
        ("started", "release-manager"),
        ("external_task_locked", "release-practitioner", "build_release"),
        ("external_task_completed", "release-practitioner", "build_release"),
        ("completed", "release-practitioner", "test_release"),
        ("timer_fired", "system", "wait_for_change_windows"),
        ("completed", "release-manager-2", "authorize_deployment"),
        ("timer_fired", "system", "deployment_window_closed"),
    )
