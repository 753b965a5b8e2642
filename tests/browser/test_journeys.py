"""The six journeys of issue 11 in a real browser, against ``python app.py`` (demo users, timer thread on).

The journeys share one server and run in order: a practitioner raises a normal change, the manager assesses
and authorizes it (its requester is refused, and sees why), the practitioner implements it, the record shows
the path; an admin creates a user who then sees their work; bad inputs are refused.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import LiveApp, screenshot

# The journeys build on each other (STATE): they run in order on one worker (make test uses --dist loadfile).
pytestmark = pytest.mark.browser
expect: Any = None  # playwright.sync_api.expect, imported once the chromium fixture has found Playwright


@pytest.fixture(autouse=True)
def _expect(chromium: Any) -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    expect = playwright_expect


@pytest.fixture(scope="module")
def requester(live: LiveApp) -> str:
    """change-practitioner, who also holds manager in change: the separation-of-duties rule is what bars them."""
    live.api("POST", "/role-assignments", "admin", json={"user": "change-practitioner", "role": "manager",
                                                         "practice": "change"})
    # The changes pick their service from the catalog (the demo's has mail and vpn). The journeys raise a change
    # dated before today (so that its implementation opens at once): the owner exempts normal changes for that.
    for service in ("shop", "hr-portal"):
        live.api("POST", "/services", "admin", json={"name": service})
    live.api("PUT", "/schedule-policies/normal_change", "change-owner", json={"lead_time_hours": 0, "exempt": True})
    # Other work in the queues, so that the lists look like a working day.
    for title, service, impact, likelihood, start in (
            ("Rotate the VPN certificates", "vpn", "high", "medium", "2026-12-20T22:00:00Z"),
            ("Add an index to the orders table", "shop", "low", "low", "2026-12-15T06:00:00Z"),
            ("Upgrade the HR portal to 4.2", "hr-portal", "medium", "medium", "2026-12-18T19:00:00Z")):
        data = {"title": title, "description": "Routine.", "affected_service": service, "category": "application",
                "impact": impact, "likelihood": likelihood, "planned_start": start,
                "planned_end": start.replace(":00:00Z", ":30:00Z"),
                "implementation_plan": "As usual.", "backout_plan": "Roll back.", "test_plan": "Smoke tests."}
        live.api("POST", "/instances", "change-practitioner", json={"process": "normal_change", "data": data})
    return "change-practitioner"


def sign_in(page: Any, live: LiveApp, username: str, password: str | None = None) -> None:
    page.goto("/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or live.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My work")


def task_link(page: Any, business_key: str, title: str) -> Any:
    row = page.get_by_role("row").filter(has_text=business_key).filter(has_text=title)
    return row.get_by_role("link", name=title)


STATE: dict[str, str] = {}


def test_1_a_practitioner_raises_a_normal_change(live, new_page, requester):
    page = new_page()
    sign_in(page, live, requester)
    page.get_by_role("link", name="Start", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Start something new")
    screenshot(page, "start")
    page.get_by_role("link", name="Start Normal change").click()
    page.get_by_label("Title").fill("Patch the mail relays")
    page.get_by_label("Description").fill("Apply the vendor's security patch to both relays.")
    page.get_by_label("Affected service").select_option("mail")
    page.get_by_label("Category").select_option("infrastructure")
    page.get_by_label("Impact", exact=False).first.select_option("medium")
    page.get_by_label("Likelihood").select_option("low")
    page.get_by_label("Planned start").fill("2026-01-05T09:00")
    page.get_by_label("Planned end").fill("2026-01-05T10:00")
    page.get_by_label("Implementation plan").fill("Drain, patch and re-enable one relay at a time.")
    page.get_by_label("Back-out plan").fill("Reinstall the previous package.")
    screenshot(page, "start-form")
    page.get_by_label("Test plan").fill("")  # left out: the server's validation answers inline
    page.get_by_role("button", name="Start Normal change").click()
    expect(page.locator(".field.has-error")).to_contain_text("Missing data for required field.")
    expect(page.get_by_label("Title")).to_have_value("Patch the mail relays")  # the input is kept

    page.get_by_label("Test plan").fill("Send a test mail through each relay.")
    page.get_by_role("button", name="Start Normal change").click()

    expect(page).to_have_url(re.compile(r"/changes/CHG-\d{6}$"))
    key = page.url.rsplit("/", 1)[1]
    STATE["key"] = key
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{key}: Patch the mail relays")
    expect(page.locator(".flash")).to_contain_text(f"{key} is started.")


def test_2_the_manager_assesses_and_authorizes_while_the_requester_is_refused(live, new_page, requester):
    key = STATE["key"]
    manager = new_page()
    sign_in(manager, live, "change-manager")
    assess = manager.get_by_role("row").filter(has_text=key).filter(has_text="Assess change")
    assess.get_by_role("button", name=f"Claim Assess change of {key}").click()
    expect(manager.get_by_role("row").filter(has_text=key).get_by_role(
        "button", name=f"Unclaim Assess change of {key}")).to_be_visible()
    screenshot(manager, "my-work")
    task_link(manager, key, "Assess change").click()
    notes = manager.get_by_label("Notes")
    expect(notes).to_be_hidden()  # required_if: shown only for rework or reject
    manager.get_by_label("Decision").select_option("rework")
    expect(notes).to_be_visible()
    manager.get_by_label("Decision").select_option("accept")
    expect(notes).to_be_hidden()
    expect(manager.locator("figure.diagram")).to_have_attribute("data-ready", "true")
    expect(manager.locator('.djs-element.cf-focus[data-element-id="assess_change"]')).to_have_count(1)
    screenshot(manager, "task")
    manager.get_by_role("button", name="Complete task").click()
    expect(manager).to_have_url(re.compile(f"/changes/{key}$"))

    owner_of_request = new_page()
    sign_in(owner_of_request, live, requester)
    owner_of_request.goto(f"/changes/{key}")
    owner_of_request.get_by_role("link", name="Authorize change").click()
    expect(owner_of_request.locator(".refusal")).to_contain_text(
        f"Separation of duties: {requester} requested {key} and may not also do 'Authorize change'.")
    expect(owner_of_request.get_by_role("button", name="Complete task")).to_have_count(0)

    manager.goto("/")
    task_link(manager, key, "Authorize change").click()
    manager.get_by_label("Decision").select_option("authorize")
    manager.get_by_role("button", name="Complete task").click()
    expect(manager.locator(".trail")).to_contain_text("change-manager completed 'Authorize change'")


def test_3_the_practitioner_implements_the_change(live, new_page, requester):
    key = STATE["key"]
    page = new_page()
    sign_in(page, live, requester)
    # The planned start is past, so the timer thread fires it within a moment; reload until the task is there.
    for _ in range(60):
        if task_link(page, key, "Implement change").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    task_link(page, key, "Implement change").click()
    page.get_by_label("Outcome").select_option("successful")
    page.get_by_role("button", name="Complete task").click()

    expect(page).to_have_url(re.compile(f"/changes/{key}$"))
    expect(page.locator(".trail")).to_contain_text(f"{requester} completed 'Implement change'")


def test_4_the_record_shows_the_path_on_the_diagram_and_the_trail(live, new_page):
    key = STATE["key"]
    page = new_page()
    sign_in(page, live, "change-manager")
    page.goto(f"/changes/{key}")

    expect(page.locator("figure.diagram")).to_have_attribute("data-ready", "true")
    for element in ("assess_change", "authorize_change", "wait_for_planned_start", "implement_change"):
        expect(page.locator(f'.djs-element.cf-completed[data-element-id="{element}"]')).to_have_count(1)
    expect(page.locator('.djs-element.cf-active[data-element-id="close_change"]')).to_have_count(1)
    trail = page.locator(".trail")
    expect(trail).to_contain_text("change-manager completed 'Assess change'")
    expect(trail).to_contain_text("timer fired: Wait for planned start")
    expect(page.get_by_role("row").filter(has_text="Close change")).to_contain_text("change-manager")
    page.get_by_role("link", name="Find", exact=True).click()
    page.get_by_label("Process").select_option("normal_change")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=key)).to_be_visible()
    screenshot(page, "find")
    page.get_by_role("link", name=key).click()
    page.get_by_label("Work note").fill("Both relays patched; monitoring for an hour.")
    page.get_by_role("button", name="Add work note").click()
    expect(page.locator(".trail")).to_contain_text("Both relays patched; monitoring for an hour.")
    screenshot(page, "record")


def test_5_an_admin_creates_a_user_who_signs_in_and_sees_their_work(live, new_page):
    key = STATE["key"]
    admin = new_page()
    sign_in(admin, live, "admin")
    admin.get_by_role("link", name="Admin", exact=True).click()
    admin.get_by_label("Username").fill("dana")
    admin.get_by_label("Display name").fill("Dana Manager")
    admin.get_by_label("First role").select_option("manager")
    admin.get_by_label("In practice").fill("change")
    admin.get_by_role("button", name="Create user").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("dana · Dana Manager")
    password = re.search(r"shown only now: (\S+)", admin.locator(".flash-secret").inner_text()).group(1)
    admin.get_by_label("Role", exact=True).select_option("practitioner")
    admin.get_by_label("Practice", exact=True).fill("release")
    admin.get_by_role("button", name="Grant role").click()
    expect(admin.locator("table").first).to_contain_text("release")
    screenshot(admin, "admin-user")

    dana = new_page()
    sign_in(dana, live, "dana", password)
    expect(dana.locator(".who")).to_contain_text("Dana Manager")
    expect(task_link(dana, key, "Close change")).to_be_visible()
    expect(dana.locator(".queues")).to_contain_text("manager · change")


def test_6_bad_inputs_are_refused(live, new_page):
    page = new_page()
    page.goto("/sign-in")
    page.get_by_label("Username").fill("change-manager")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The username or password is wrong.")
    screenshot(page, "sign-in")

    sign_in(page, live, "change-owner")
    page.goto("/account")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    page.get_by_label("Current password").fill(live.passwords["change-owner"])
    page.get_by_label("New password (at least 10 characters)").fill("stolen password!")
    page.get_by_label("New password again").fill("stolen password!")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The form has expired")

    victim = new_page()
    sign_in(victim, live, "release-owner")
    admin = new_page()
    sign_in(admin, live, "admin")
    admin.goto("/admin/users/release-owner")
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name="Disable account").click()
    expect(admin.locator(".flash")).to_contain_text("release-owner is disabled")
    victim.reload()
    expect(victim.get_by_role("heading", level=1)).to_have_text("Sign in to Changeflow")
    expect(victim.locator(".flash-error")).to_contain_text("This account is disabled")


def test_7_the_calendar_shows_a_conflict(live, new_page, requester):
    """Two changes on the same service in overlapping windows: the calendar marks both, and says with what."""
    live.api("POST", "/services", "admin", json={"name": "payments",
                                                 "maintenance_windows": [{"days": ["sun"], "start": "02:00",
                                                                          "end": "06:00"}]})
    keys = []
    for title, start, end in (("Resize the payments database", "2027-03-07T02:00:00Z", "2027-03-07T04:00:00Z"),
                              ("Patch the payments gateway", "2027-03-07T03:00:00Z", "2027-03-07T05:00:00Z")):
        data = {"title": title, "description": "Routine.", "affected_service": "payments",
                "category": "application", "impact": "low", "likelihood": "low", "planned_start": start,
                "planned_end": end, "implementation_plan": "As usual.", "backout_plan": "Roll back.",
                "test_plan": "Smoke tests."}
        started = live.api("POST", "/instances", "change-practitioner", json={"process": "normal_change",
                                                                               "data": data})
        keys.append(started["business_key"])
        assert [c["kind"] for c in started["data"]["schedule_conflicts"]] == (["overlap"] if keys[1:] else [])
    page = new_page()
    sign_in(page, live, "change-manager")
    page.get_by_role("link", name="Schedule", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change schedule")
    page.get_by_label("View").select_option("week")
    page.get_by_label("Around").fill("2027-03-07")
    page.get_by_label("Service").select_option("payments")
    page.get_by_role("button", name="Show").click()
    first = page.locator(f".schedule-entry.conflict[data-key='{keys[0]}']")
    expect(first).to_be_visible()
    expect(first.get_by_role("note")).to_contain_text(f"Overlaps {keys[1]}")
    expect(page.locator(f".schedule-entry.conflict[data-key='{keys[1]}']").get_by_role("note")).to_contain_text(
        f"Overlaps {keys[0]}")
    expect(page.locator(".conflict-count")).to_have_text("2 with conflicts")
    screenshot(page, "schedule")
    page.get_by_label("View").select_option("timeline")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("row").filter(has_text="payments").locator(".conflict")).to_have_count(2)
