"""The change schedule through HTTP: the catalog, blackouts, lead times, conflicts at every place they show,
the forward schedule and its calendar feeds, and who may do what."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import icalendar
import pytest
from sqlalchemy import select

from engine import FakeClock
from schedule.models import CalendarToken, ScheduleEntry
from tests.api.support import Http, assert_problem, iso

SUNDAY_NIGHT = [{"days": ["sun"], "start": "02:00", "end": "06:00"}]


def owner_posts(http: Http, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = http.post(path, "change-owner", body)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def schedule_rows(app: Any) -> dict[str, ScheduleEntry]:
    with app.extensions["changeflow"].database.snapshot() as session:
        rows = {row.business_key: row for row in session.scalars(select(ScheduleEntry))}
        session.expunge_all()
        return rows


# -- the catalog ------------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_owners_manage_the_service_catalog_and_others_read_it(http: Http, shipped: Any) -> None:
    created = owner_posts(http, "/api/services", {"name": "ledger", "criticality": "high",
                                                  "maintenance_windows": SUNDAY_NIGHT})
    assert (created["name"], created["practice"], created["criticality"], created["maintenance_windows"]) == (
        "ledger", "change", "high", SUNDAY_NIGHT)
    for user in ("change-manager", "change-practitioner", "release-owner"):
        assert_problem(http.post("/api/services", user, {"name": "x"}), 403, "forbidden")
    assert_problem(http.post("/api/services", "change-owner", {"name": "ledger"}), 422, detail="already has")
    bad = assert_problem(http.post("/api/services", "change-owner", {
        "name": "y", "maintenance_windows": [{"days": ["sun"], "start": "25:00", "end": "06:00"}]}), 422)
    assert "maintenance_windows" in bad["errors"], bad

    names = [service["name"] for service in http.get("/api/services", "release-practitioner").get_json()]
    assert names == ["billing", "customer portal", "ledger", "mail", "payroll"]
    assert_problem(http.get("/api/services", "nobody"), 404)

    changed = http.call("PATCH", "/api/services/ledger", "admin", json={"criticality": "critical"})
    assert changed.status_code == 200 and changed.get_json()["criticality"] == "critical"
    assert_problem(http.call("PATCH", "/api/services/nope", "change-owner", json={"criticality": "low"}), 404)
    assert http.delete("/api/services/ledger", "change-owner").status_code == 204
    assert_problem(http.delete("/api/services/ledger", "change-owner"), 404)


@pytest.mark.sqlite_only
def test_a_change_picks_its_service_from_the_catalog(http: Http, shipped: Any, clock: FakeClock) -> None:
    form = http.get("/api/process-models/normal_change/versions/1/start-form", "change-practitioner").get_json()
    service = form["form"]["schema"]["properties"]["affected_service"]
    assert service["enum"] == ["billing", "customer portal", "mail", "payroll"]
    assert service["x-choices-from"] == "services"
    response = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": {
        **_request(clock), "affected_service": "the moon"}})
    problem = assert_problem(response, 422, "validation-failed")
    assert list(problem["errors"]) == ["affected_service"], problem
    assert "catalog" in problem["errors"]["affected_service"][0]


def _request(clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    from tests.api.support import change_request
    return change_request(clock, **overrides)


# -- lead time --------------------------------------------------------------------------------------------


def test_lead_time_past_starts_and_ends_before_starts_are_refused_naming_the_field(
        http: Http, shipped: Any, clock: FakeClock, app: Any) -> None:
    past = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": _request(
        clock, start_in=timedelta(hours=-1))})
    problem = assert_problem(past, 422, "validation-failed")
    assert list(problem["errors"]) == ["planned_start"] and "in the past" in problem["errors"]["planned_start"][0]

    backwards = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": {
        **_request(clock), "planned_end": iso(clock.now() + timedelta(hours=1))}})
    assert list(assert_problem(backwards, 422)["errors"]) == ["planned_end"]

    assert_problem(http.call("PUT", "/api/schedule-policies/normal_change", "change-manager",
                             json={"lead_time_hours": 48}), 403)
    set_ = http.call("PUT", "/api/schedule-policies/normal_change", "change-owner", json={"lead_time_hours": 48})
    assert set_.status_code == 200 and set_.get_json()["lead_time_hours"] == 48
    assert [p["process_key"] for p in http.get("/api/schedule-policies", "change-practitioner").get_json()] == [
        "normal_change"]
    soon = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": _request(
        clock, start_in=timedelta(hours=24))})
    problem = assert_problem(soon, 422)
    assert "48 hours of lead time" in problem["errors"]["planned_start"][0], problem
    assert schedule_rows(app) == {}  # nothing of the refused starts is left
    later = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": _request(
        clock, start_in=timedelta(hours=49))})
    assert later.status_code == 201, later.get_json()

    # emergency changes are exempt, whatever their window
    emergency = http.post("/api/instances", "change-practitioner", {"process": "emergency_change", "data": {
        "title": "Block the exploit", "description": "WAF rule.", "affected_service": "payroll",
        "category": "security", "incident_reference": "INC-1", "justification": "Under attack.",
        "implementation_plan": "Deploy the rule.", "backout_plan": "Remove it."}})
    assert emergency.status_code == 201, emergency.get_json()


# -- conflicts --------------------------------------------------------------------------------------------


def test_each_conflict_kind_shows_when_raised_on_the_task_and_in_the_calendar(
        http: Http, shipped: Any, clock: FakeClock, app: Any) -> None:
    owner_posts(http, "/api/services", {"name": "ledger", "maintenance_windows": SUNDAY_NIGHT})
    sunday = clock.now().replace(hour=2, minute=0) + timedelta(days=(6 - clock.now().weekday()) % 7 or 7)
    blackout = owner_posts(http, "/api/blackouts", {"starts_at": iso(sunday + timedelta(days=7)),
                                                    "ends_at": iso(sunday + timedelta(days=8)),
                                                    "reason": "Year-end close"})
    clean = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": {
        **_request(clock), "affected_service": "ledger", "planned_start": iso(sunday),
        "planned_end": iso(sunday + timedelta(hours=2))}}).get_json()
    assert (clean["data"]["schedule_conflicts"], clean["data"]["risk"]) == ([], "low")

    overlap = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": {
        **_request(clock), "affected_service": "ledger", "planned_start": iso(sunday + timedelta(hours=1)),
        "planned_end": iso(sunday + timedelta(hours=3))}}).get_json()
    kinds = [conflict["kind"] for conflict in overlap["data"]["schedule_conflicts"]]
    assert kinds == ["overlap"], overlap["data"]["schedule_conflicts"]
    assert overlap["data"]["schedule_conflicts"][0]["with"] == clean["business_key"]
    assert overlap["data"]["risk"] == "medium"  # a conflict raises a low risk

    outside = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": {
        **_request(clock), "affected_service": "ledger", "planned_start": iso(sunday + timedelta(hours=10)),
        "planned_end": iso(sunday + timedelta(hours=11))}}).get_json()
    assert [c["kind"] for c in outside["data"]["schedule_conflicts"]] == ["outside_maintenance"]

    frozen = http.post("/api/instances", "change-practitioner", {"process": "normal_change", "data": {
        **_request(clock), "affected_service": "ledger", "planned_start": iso(sunday + timedelta(days=7)),
        "planned_end": iso(sunday + timedelta(days=7, hours=2))}}).get_json()
    conflicts = frozen["data"]["schedule_conflicts"]
    assert [c["kind"] for c in conflicts] == ["blackout"] and conflicts[0]["reason"] == "Year-end close"
    assert conflicts[0]["blackout_id"] == blackout["id"]
    assert frozen["data"]["risk"] == "high"

    # on the assessment task, as the schedule stands now
    task = http.open_task(overlap["id"], "assess_change")
    detail = http.get(f"/api/tasks/{task['id']}", "change-manager").get_json()
    assert [c["kind"] for c in detail["schedule_conflicts"]] == ["overlap"]
    # the blackout change goes to the owner once accepted
    task = http.open_task(frozen["id"], "assess_change")
    http.complete(task["id"], "change-manager", {"assessment_decision": "accept"})
    authorize = http.open_task(frozen["id"], "authorize_high_risk_change")
    assert authorize["role"] == "owner"
    detail = http.get(f"/api/tasks/{authorize['id']}", "change-owner").get_json()
    assert [c["kind"] for c in detail["schedule_conflicts"]] == ["blackout"]

    # the calendar lists them too, and a check before raising a change gives the same answer
    listed = http.get(f"/api/schedule?from={iso(sunday - timedelta(days=1))}&to={iso(sunday + timedelta(days=9))}"
                      "&service=ledger", "change-practitioner").get_json()
    by_key = {entry["business_key"]: [c["kind"] for c in entry["conflicts"]] for entry in listed}
    assert by_key == {clean["business_key"]: ["overlap"], overlap["business_key"]: ["overlap"],
                      outside["business_key"]: ["outside_maintenance"], frozen["business_key"]: ["blackout"]}
    checked = http.post("/api/schedule/conflicts", "change-practitioner", {
        "service": "ledger", "planned_start": iso(sunday), "planned_end": iso(sunday + timedelta(hours=2)),
        "process": "normal_change"}).get_json()
    assert [c["with"] for c in checked["conflicts"]] == [clean["business_key"], overlap["business_key"]]
    assert checked["refused"] == {}


@pytest.mark.sqlite_only
def test_blackouts_are_the_owners(http: Http, shipped: Any, clock: FakeClock) -> None:
    body = {"starts_at": iso(clock.now()), "ends_at": iso(clock.now() + timedelta(days=1)), "reason": "Freeze"}
    assert_problem(http.post("/api/blackouts", "change-manager", body), 403)
    assert_problem(http.post("/api/blackouts", "change-owner", {**body, "service": "nope"}), 422)
    assert_problem(http.post("/api/blackouts", "change-owner", {**body, "ends_at": body["starts_at"]}), 422)
    created = owner_posts(http, "/api/blackouts", body)
    assert [b["id"] for b in http.get("/api/blackouts", "release-manager").get_json()] == [created["id"]]
    assert_problem(http.delete(f"/api/blackouts/{created['id']}", "change-practitioner"), 403)
    assert http.delete(f"/api/blackouts/{created['id']}", "admin").status_code == 204
    assert http.get("/api/blackouts", "release-manager").get_json() == []


# -- the schedule and its feeds ---------------------------------------------------------------------------


def test_the_schedule_lists_windows_and_states_and_feeds_it_to_calendars(
        http: Http, shipped: Any, clock: FakeClock, app: Any) -> None:
    first = http.start_change(clock, title="Patch payroll")
    second = http.start_change(clock, user="change-practitioner-2", affected_service="mail",
                               start_in=timedelta(days=3))
    task = http.open_task(first["id"], "assess_change")
    http.complete(task["id"], "change-manager", {"assessment_decision": "accept"})
    task = http.open_task(first["id"], "authorize_change")
    http.complete(task["id"], "change-manager", {"authorization_decision": "authorize"})

    window = f"from={iso(clock.now())}&to={iso(clock.now() + timedelta(days=30))}"
    listed = http.get(f"/api/schedule?{window}", "release-practitioner").get_json()
    assert [(e["business_key"], e["service"], e["state"]) for e in listed] == [
        (first["business_key"], "payroll", "authorized"), (second["business_key"], "mail", "requested")]
    assert listed[0]["starts_at"] == first["data"]["planned_start"]
    mine = http.get(f"/api/schedule?{window}&mine=true", "change-practitioner-2").get_json()
    assert [e["business_key"] for e in mine] == [second["business_key"]]
    assert_problem(http.get(f"/api/schedule?{window}", "nobody"), 404)
    assert_problem(http.get(f"/api/schedule?from={iso(clock.now())}&to={iso(clock.now() - timedelta(days=1))}",
                            "change-owner"), 422)

    made = http.post("/api/calendar-feeds", "change-practitioner", {"service": "payroll"})
    assert made.status_code == 201, made.get_json()
    url = made.get_json()["url"]
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    with app.extensions["changeflow"].database.snapshot() as session:
        stored = session.scalars(select(CalendarToken)).one()
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()  # the token itself is not kept
    feed = http.get(f"/api/calendar/{token}.ics", None)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    events = icalendar.Calendar.from_ical(feed.get_data()).walk("VEVENT")
    assert [str(event["uid"]).split("@")[0] for event in events] == [first["business_key"]]
    assert "Patch payroll" in str(events[0]["summary"])
    assert http.get("/api/calendar/cal_wrong.ics", None).status_code == 404

    own = http.post("/api/calendar-feeds", "change-practitioner-2", {}).get_json()
    own_token = own["url"].rsplit("/", 1)[1].removesuffix(".ics")
    events = icalendar.Calendar.from_ical(http.get(f"/api/calendar/{own_token}.ics", None).get_data()).walk("VEVENT")
    assert [str(event["uid"]).split("@")[0] for event in events] == [second["business_key"]]
    assert [f["id"] for f in http.get("/api/calendar-feeds", "change-practitioner-2").get_json()] == [own["id"]]
    assert_problem(http.delete(f"/api/calendar-feeds/{own['id']}", "change-practitioner"), 404)
    assert http.delete(f"/api/calendar-feeds/{own['id']}", "change-practitioner-2").status_code == 204
    assert http.get(f"/api/calendar/{own_token}.ics", None).status_code == 404


def test_a_rejected_change_leaves_the_schedule(http: Http, shipped: Any, clock: FakeClock, app: Any) -> None:
    change = http.start_change(clock)
    task = http.open_task(change["id"], "assess_change")
    http.complete(task["id"], "change-manager", {"assessment_decision": "reject", "assessment_notes": "No."})
    assert schedule_rows(app)[change["business_key"]].state.value == "withdrawn"
    window = f"from={iso(clock.now())}&to={iso(clock.now() + timedelta(days=30))}"
    assert http.get(f"/api/schedule?{window}", "change-owner").get_json() == []


def test_an_authorized_change_moved_to_a_new_window_goes_back_to_authorization(
        http: Http, shipped: Any, clock: FakeClock, app: Any, app_engine: Any) -> None:
    change = http.start_change(clock)
    http.complete(http.open_task(change["id"], "assess_change")["id"], "change-manager",
                  {"assessment_decision": "accept"})
    path = f"/api/changes/{change['business_key']}/reschedule"
    later = {"planned_start": iso(clock.now() + timedelta(days=5)), "planned_end": iso(clock.now() + timedelta(days=5,
                                                                                                            hours=1))}
    assert_problem(http.post(path, "change-manager", later), 409)  # not authorized yet: rework moves it
    http.complete(http.open_task(change["id"], "authorize_change")["id"], "change-manager",
                  {"authorization_decision": "authorize"})
    assert schedule_rows(app)[change["business_key"]].state.value == "authorized"

    assert_problem(http.post(path, "change-practitioner", later), 403)
    past = {**later, "planned_start": iso(clock.now() - timedelta(hours=1))}
    assert list(assert_problem(http.post(path, "change-manager", past), 422)["errors"]) == ["planned_start"]
    moved = http.post(path, "change-manager", {**later, "reason": "Vendor delay."})
    assert moved.status_code == 200, moved.get_json()
    body = moved.get_json()
    assert body["data"]["planned_start"] == later["planned_start"].replace("Z", "+00:00")
    assert body["data"]["authorized"] is False
    assert [task["element_id"] for task in body["tasks"]] == ["authorize_change"]
    row = schedule_rows(app)[change["business_key"]]
    assert (row.state.value, iso(row.starts_at)) == ("requested", later["planned_start"])
    events = http.get(f"/api/instances/{change['id']}/events?per_page=200", "change-manager").get_json()
    note = [e for e in events if e["type"] == "note"][-1]
    assert note["data"]["previous_window"]["planned_start"] == change["data"]["planned_start"]
    assert note["data"]["window"]["planned_start"] == later["planned_start"].replace("Z", "+00:00")

    # authorized again, it waits for the new window: the old one passes without a thing happening
    http.complete(http.open_task(change["id"], "authorize_change")["id"], "change-manager",
                  {"authorization_decision": "authorize"})
    clock.advance(timedelta(days=2))
    app_engine.fire_due_timers()
    assert http.get(f"/api/instances/{change['id']}", "change-manager").get_json()["tasks"] == []
    clock.advance(timedelta(days=3))
    app_engine.fire_due_timers()
    http.open_task(change["id"], "implement_change")
