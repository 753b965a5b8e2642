"""The pages as plain HTML forms: My work, a task, Start, a record, Find, and what each changes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.models import Event, HumanTask
from schedule.models import ScheduleEntry
from tests.api.support import change_request, rows

pytestmark = pytest.mark.usefixtures("shipped")


def task_row(app, task_id):
    with app.extensions["changeflow"].database.snapshot() as session:
        row = session.get(HumanTask, task_id)
        return {"assignee": row.assignee, "status": row.status.value, "completed_by": row.completed_by}


def form_of(clock, **overrides):
    """The request-for-change form as a browser posts it (datetime-local fields are UTC without a zone)."""
    data = change_request(clock, **overrides)
    for name in ("planned_start", "planned_end"):
        data[name] = data[name][:16]
    return data


# -- My work ----------------------------------------------------------------------------------------------


def test_my_work_lists_each_task_with_its_record_risk_window_due_date_and_sla(browser, http, clock):
    change = http.start_change(clock, title="Patch the relays", impact="high", likelihood="high")
    http.complete(change["tasks"][0]["id"], "change-manager", {"assessment_decision": "accept"})
    clock.advance(timedelta(hours=30))  # the high-risk authorization is due in 24 hours: overdue now

    page = browser("change-owner").get("/")

    assert page.status == 200
    [row] = re.findall(r"<tr class=\"(\w*)\">(.*?)</tr>", page.text, re.S)
    assert row[0] == "overdue"
    assert change["business_key"] in row[1] and "Patch the relays" in row[1]
    assert "Authorize high-risk change" in row[1] and 'risk-high">high' in row[1]
    assert "Overdue" in row[1]
    start = change["data"]["planned_start"]
    assert f"{start[:10]} {start[11:16]} UTC" in row[1]


def test_my_work_sorts_by_due_date_filters_and_counts_per_queue(browser, http, clock):
    first = http.start_change(clock, title="First")
    clock.advance(timedelta(minutes=1))
    second = http.start_change(clock, title="Second")
    http.complete(second["tasks"][0]["id"], "change-manager", {"assessment_decision": "accept"})
    manager = browser("change-manager")

    def titles(path):
        page = manager.get(path)
        assert page.status == 200
        return re.findall(r'<div class="sub">(First|Second)</div>', page.text)

    assert titles("/") == ["Second", "First"]  # the authorization is due; the assessment has no due date
    assert titles("/?sort=created") == ["First", "Second"]
    assert titles("/?process=standard_change") == []
    assert titles("/?role=practitioner") == []
    manager.post(f"/tasks/{first['tasks'][0]['id']}/claim")
    assert titles("/?assigned=me") == ["First"]
    assert titles("/?assigned=none") == ["Second"]
    counts = dict(re.findall(r'<span class="count">(\d+)</span> ([^<]+)</a>', manager.get("/").text))
    assert counts == {"1": "held by me", "2": "manager · change"}


def test_my_work_paginates(browser, http, clock):
    for n in range(27):
        http.start_change(clock, title=f"Change {n}")
        clock.advance(timedelta(seconds=1))
    manager = browser("change-manager")

    first, second = manager.get("/?sort=created"), manager.get("/?sort=created&page=2")

    assert first.text.count('<tr class="') == 25 and second.text.count('<tr class="') == 2
    assert "Page 1 of 2 (27 in all)" in first.text and 'rel="next"' in first.text
    assert "Change 26" in second.text and 'rel="prev"' in second.text


def test_claim_and_unclaim_are_plain_posts_that_return_to_the_list(app, browser, http, clock):
    task = http.start_change(clock)["tasks"][0]
    manager = browser("change-manager")

    claimed = manager.post(f"/tasks/{task['id']}/claim", {"next": "/?sort=created"})
    assert claimed.status == 302 and claimed.location == "/?sort=created"
    assert task_row(app, task["id"])["assignee"] == "change-manager"
    assert 'aria-label="Unclaim Assess change of' in manager.get("/").text

    released = manager.post(f"/tasks/{task['id']}/unclaim", {"next": "//evil.example"})
    assert released.status == 302 and released.location == f"/tasks/{task['id']}"
    assert task_row(app, task["id"])["assignee"] is None


def test_claiming_a_task_someone_else_holds_is_a_409_page(app, browser, http, clock):
    task = http.start_change(clock)["tasks"][0]
    http.post(f"/api/tasks/{task['id']}/claim", "change-manager")
    lead = browser("change-lead")

    page = lead.post(f"/tasks/{task['id']}/claim")

    assert page.status == 409 and "change-manager" in page.text
    assert task_row(app, task["id"])["assignee"] == "change-manager"


# -- a task -----------------------------------------------------------------------------------------------


def test_the_task_form_renders_from_its_definition(browser, http, clock):
    task = http.start_change(clock)["tasks"][0]

    page = browser("change-manager").get(f"/tasks/{task['id']}")

    assert page.status == 200
    assert '<label for="field-assessment_decision">Decision <span class="req"' in page.text
    assert re.search(r'<select id="field-assessment_decision" name="assessment_decision" required', page.text)
    assert [v for v in re.findall(r'<option value="(\w*)"', page.text)] == ["", "accept", "rework", "reject"]
    assert 'data-required-if="assessment_decision" data-required-values="rework|reject"' in page.text
    assert "Required when the change is sent back for rework or rejected." in page.text  # the help text
    assert "Upgrade the payroll database" in page.text and "payroll" in page.text  # the record's summary
    assert 'data-diagram-url="/records/CHG-000001/diagram.json?task=assess_change"' in page.text


def test_server_errors_show_inline_and_keep_the_input(app, browser, http, clock):
    task = http.start_change(clock)["tasks"][0]
    before = rows(app)

    page = browser("change-manager").post(f"/tasks/{task['id']}/complete", {"assessment_decision": "rework",
                                                                          "assessment_notes": ""})

    assert page.status == 422
    assert page.errors() == ["Required when Decision is rework."]
    assert '<option value="rework" selected>' in page.text
    assert rows(app) == before


def test_completing_a_task_lands_on_the_record(app, browser, http, clock):
    change = http.start_change(clock)
    task = change["tasks"][0]

    page = browser("change-manager").post(f"/tasks/{task['id']}/complete", {"assessment_decision": "accept"})

    assert page.status == 302 and page.location == f"/changes/{change['business_key']}"
    assert task_row(app, task["id"]) == {"assignee": "change-manager", "status": "completed",
                                         "completed_by": "change-manager"}


def test_the_requester_sees_which_separation_of_duties_rule_bars_them(app, browser, http, clock):
    lead = browser("change-lead")
    started = lead.post("/start/normal_change", form_of(clock))
    key = started.location.rsplit("/", 1)[1]
    assess = http.open_task(1, "assess_change")
    http.complete(assess["id"], "change-manager", {"assessment_decision": "accept"})
    authorize = http.open_task(1, "authorize_change")

    page = lead.get(f"/tasks/{authorize['id']}")
    before = rows(app)
    refused = lead.post(f"/tasks/{authorize['id']}/complete", {"authorization_decision": "authorize"})

    assert page.status == 200 and 'class="task-form"' not in page.text
    assert ("Separation of duties: change-lead requested " + key + " and may not also do "
            "&#39;Authorize change&#39;.") in page.text
    assert refused.status == 403 and "Separation of duties" in refused.text
    assert rows(app) == before
    assert "Authorize change" not in lead.get("/").text  # nor is it in the requester's work list


def test_a_task_of_another_practice_is_not_found(browser, http, clock):
    task = http.start_change(clock)["tasks"][0]

    assert browser("release-manager").get(f"/tasks/{task['id']}").status == 404


# -- start ------------------------------------------------------------------------------------------------


def test_the_start_catalog_lists_what_this_user_may_start(browser):
    practitioner = browser("change-practitioner").get("/start").text
    manager = browser("change-manager").get("/start").text

    assert "Normal change" in practitioner or "normal_change" in practitioner
    assert 'href="/start/normal_change"' in practitioner and 'href="/start/release"' not in practitioner
    assert 'href="/start/normal_change"' not in manager


def test_starting_with_errors_keeps_the_input_and_starting_lands_on_the_record(app, browser, clock):
    practitioner = browser("change-practitioner")
    bad = practitioner.post("/start/normal_change", form_of(clock, title="", impact="enormous"))

    assert bad.status == 422
    assert set(bad.errors()) == {"Missing data for required field.", "Must be one of: low, medium, high."}
    assert 'value="payroll"' in bad.text
    assert rows(app, "process_instance")["process_instance"] == []

    good = practitioner.post("/start/normal_change", form_of(clock))
    assert good.status == 302 and good.location == "/changes/CHG-000001"
    record = practitioner.get(good.location)
    assert record.status == 200 and "CHG-000001 is started." in record.flashes()


def test_a_manager_may_not_start_a_normal_change(browser, clock):
    assert browser("change-manager").get("/start/normal_change").status == 403
    assert browser("change-manager").post("/start/normal_change", form_of(clock)).status == 403


# -- the record -------------------------------------------------------------------------------------------


def test_the_record_shows_data_trail_and_who_may_act(browser, http, clock):
    browser("change-lead").post("/start/normal_change", form_of(clock))
    http.complete(http.open_task(1, "assess_change")["id"], "change-manager", {"assessment_decision": "accept"})

    page = browser("change-practitioner").get("/changes/CHG-000001")

    assert page.status == 200
    assert "<h1>CHG-000001: Upgrade the payroll database</h1>" in page.text
    assert "<strong>change-lead</strong> started it (version 1)" in page.text
    assert "<strong>change-manager</strong> completed &#39;Assess change&#39;" in page.text
    assert "assessment decision: accept" in page.text
    # The authorization: change-manager may act; change-lead (the requester, also a manager) is barred.
    assert re.search(r"Authorize change</a></td>\s*<td>manager · change</td>\s*<td>change-manager\b", page.text)
    assert "Barred: change-lead (Separation of duties" in page.text
    assert "<dt>Affected service</dt><dd>payroll</dd>" in page.text


def test_a_task_nobody_may_act_on_is_flagged(browser, http, clock):
    change = http.start_change(clock)
    admin = browser("admin")
    for manager in ("change-manager", "change-lead"):  # every manager of change
        assert admin.post(f"/admin/users/{manager}/disable").status == 302

    page = admin.get(f"/changes/{change['business_key']}")

    assert '<tr class="nobody">' in page.text and "Nobody may act on this task" in page.text


def test_records_live_under_their_practice_and_a_wrong_folder_redirects(browser, http, clock):
    http.start_change(clock)
    manager = browser("change-manager")

    assert manager.get("/releases/CHG-000001").location == "/changes/CHG-000001"
    assert manager.get("/records/CHG-000001").location == "/changes/CHG-000001"
    assert manager.get("/changes/chg-000001").status == 200
    assert manager.get("/changes/CHG-000404").status == 404
    assert browser("release-manager").get("/changes/CHG-000001").status == 404


def test_the_diagram_marks_completed_active_and_waiting_elements(browser, http, clock, app_engine):
    task = http.change_at(clock, app_engine, "implement_change")
    manager = browser("change-manager")

    marks = manager.get(f"/records/CHG-000001/diagram.json?task={task['element_id']}").response.get_json()

    assert marks["bpmn"].startswith("<?xml") and marks["focus"] == "implement_change"
    done = {"request_for_change", "assess_change", "authorize_change", "wait_for_planned_start"}
    assert done <= set(marks["completed"])
    assert marks["active"] == ["implement_change"] and marks["waiting"] == []

    http.start_change(clock, start_in=timedelta(days=30))
    second = http.open_task(2, "assess_change")
    http.complete(second["id"], "change-manager", {"assessment_decision": "accept"})
    authorize = http.open_task(2, "authorize_change")
    http.complete(authorize["id"], "change-manager", {"authorization_decision": "authorize"})
    waiting = manager.get("/records/CHG-000002/diagram.json").response.get_json()
    assert waiting["active"] == [] and "wait_for_planned_start" in waiting["waiting"]


def test_a_work_note_joins_the_trail(app, browser, http, clock):
    http.start_change(clock)
    practitioner = browser("change-practitioner-2")

    empty = practitioner.post("/records/CHG-000001/notes", {"text": "  "})
    added = practitioner.post("/records/CHG-000001/notes", {"text": "Vendor confirmed the patch."})

    assert empty.status == 422 and "A work note needs some text." in empty.text
    assert added.status == 302 and added.location == "/changes/CHG-000001#trail"
    with app.extensions["changeflow"].database.snapshot() as session:
        notes = [(e.actor, e.data) for e in session.query(Event).filter_by(type="note")]
    assert notes == [("change-practitioner-2", {"text": "Vendor confirmed the patch."})]
    assert "Vendor confirmed the patch." in practitioner.get("/changes/CHG-000001").text


def test_managers_suspend_resume_and_cancel_only_with_the_confirmation(app, browser, http, clock):
    http.start_change(clock)
    manager, practitioner = browser("change-manager"), browser("change-practitioner")

    def status():
        return http.get("/api/instances/1", "admin").get_json()["status"]

    unconfirmed = manager.post("/records/CHG-000001/suspend", {"reason": "freeze"})
    assert unconfirmed.status == 302 and status() == "running"
    assert practitioner.post("/records/CHG-000001/suspend", {"confirm": "yes"}).status == 403
    assert status() == "running"
    assert 'action="/records/CHG-000001/suspend"' not in practitioner.get("/changes/CHG-000001").text

    assert manager.post("/records/CHG-000001/suspend", {"confirm": "yes", "reason": "freeze"}).status == 302
    assert status() == "suspended"
    assert "freeze" in manager.get("/changes/CHG-000001").text
    manager.post("/records/CHG-000001/resume", {"confirm": "yes"})
    assert status() == "running"
    manager.post("/records/CHG-000001/cancel", {"confirm": "yes", "reason": "not needed"})
    assert status() == "cancelled"
    with app.extensions["changeflow"].database.snapshot() as session:  # off the schedule, in the same command
        entry = session.scalars(select(ScheduleEntry).filter_by(business_key="CHG-000001")).one()
        assert (entry.state.value, entry.outcome) == ("withdrawn", "cancelled")
    assert manager.post("/records/CHG-000001/explode", {"confirm": "yes"}).status == 404


# -- find -------------------------------------------------------------------------------------------------


def test_find_by_key_status_requester_and_service(browser, http, clock):
    http.start_change(clock, affected_service="mail")
    http.start_change(clock, user="change-practitioner-2", affected_service="payroll")
    practitioner = browser("change-practitioner")

    def keys(query):
        page = practitioner.get(f"/find?{query}")
        assert page.status == 200
        return re.findall(r'<td><a href="/changes/(CHG-\d+)">', page.text)

    assert keys("") == ["CHG-000002", "CHG-000001"]
    assert keys("requester=me") == ["CHG-000001"]
    assert keys("service=payroll") == ["CHG-000002"]
    assert keys("status=completed") == []
    assert keys("process=normal_change&status=running") == ["CHG-000002", "CHG-000001"]
    assert keys(f"from={clock.now():%Y-%m-%d}&until={clock.now():%Y-%m-%d}") == ["CHG-000002", "CHG-000001"]
    assert keys(f"from={clock.now() + timedelta(days=1):%Y-%m-%d}") == []
    assert practitioner.get("/find?key=chg-000002").location == "/changes/CHG-000002"
    missing = practitioner.get("/find?key=CHG-000404")
    assert missing.status == 200 and "There is no record CHG-000404 that you may see." in missing.flashes()
    assert browser("release-manager").get("/find?key=CHG-000001").status == 200  # hidden: not found


def test_a_release_started_from_its_form_links_its_changes(browser, http, clock):
    http.start_change(clock)
    manager = browser("release-manager")
    form = {"title": "Mail stack 2026.1", "description": "The relays and the filters.",
            "change_keys": "CHG-000001\n  \n", "impact": "low",
            "planned_deployment": (clock.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")}

    bad = manager.post("/start/release", {**form, "change_keys": "CHG-1"})
    started = manager.post("/start/release", form)

    assert bad.status == 422 and "CHG-1" in bad.text  # the typed list is kept
    assert started.status == 302 and started.location == "/releases/REL-000001"
    record = manager.get(started.location)
    assert '<li><a href="/changes/CHG-000001">CHG-000001</a></li>' in record.text
    assert http.get("/api/instances/REL-000001", "release-manager").get_json()["data"]["change_keys"] == [
        "CHG-000001"]
