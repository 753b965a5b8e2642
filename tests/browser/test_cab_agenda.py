"""The CAB agenda in a real browser (issue 14), against ``python app.py`` with its demo users.

Two high-risk changes await the CAB; a CAB member reads the agenda and cannot record outcomes; the change
manager, chairing, records one approved and one rejected in one step; a practitioner is refused the page.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveApp, screenshot

pytestmark = pytest.mark.browser
expect: Any = None


@pytest.fixture(autouse=True)
def _expect(chromium: Any) -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    expect = playwright_expect


def sign_in(page: Any, live: LiveApp, username: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(live.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My work")


def at_the_cab(live: LiveApp, title: str, service: str, start: str) -> str:
    """A high-risk change raised by change-practitioner and accepted by change-manager: it awaits the CAB."""
    data = {"title": title, "description": "Needs the board.", "affected_service": service, "category": "network",
            "impact": "high", "likelihood": "high", "planned_start": start,
            "planned_end": start.replace("T22:", "T23:"), "implementation_plan": "Staged.",
            "backout_plan": "Roll back.", "test_plan": "Smoke tests."}
    instance = live.api("POST", "/instances", "change-practitioner", json={"process": "normal_change", "data": data})
    [task] = [t for t in instance["tasks"] if t["element_id"] == "assess_change"]
    live.api("POST", f"/tasks/{task['id']}/complete", "change-manager",
             json={"data": {"assessment_decision": "accept"}})
    return instance["business_key"]


@pytest.fixture(scope="module")
def changes(live: LiveApp) -> list[str]:
    keys = [at_the_cab(live, "Replace the core switches", "mail", "2026-12-20T22:00:00Z"),
            at_the_cab(live, "Move the data centre uplink", "vpn", "2026-12-22T22:00:00Z")]
    tasks = live.api("GET", "/tasks", "change-cab")
    [vote] = [t for t in tasks if t["business_key"] == keys[0] and t["element_id"] == "cab_vote"][:1]
    live.api("POST", f"/tasks/{vote['id']}/complete", "change-cab",
             json={"data": {"cab_vote": "approve", "cab_comment": "Plan is sound."}})
    return keys


def test_a_cab_member_reads_the_agenda(live, new_page, changes):
    page = new_page()
    sign_in(page, live, "change-cab")
    page.get_by_role("link", name="CAB", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("CAB agenda")
    first = page.locator(f'tr[data-business-key="{changes[0]}"]')
    expect(first).to_contain_text("Replace the core switches")
    expect(first).to_contain_text("mail")
    expect(first).to_contain_text("high")
    expect(first).to_contain_text("1 approve, 0 reject, 0 abstain")
    expect(first).to_contain_text("2026-12-20 22:00 UTC")
    expect(page.locator(f'tr[data-business-key="{changes[1]}"]')).to_contain_text("vpn")
    expect(page.get_by_role("button", name="Record outcomes")).to_have_count(0)

    page.get_by_label("Planned start from").fill("2026-12-21")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("tr[data-business-key]")).to_have_count(1)
    expect(page.locator(f'tr[data-business-key="{changes[1]}"]')).to_be_visible()


def test_the_chair_records_the_meetings_outcomes_in_one_step(live, new_page, changes):
    page = new_page()
    sign_in(page, live, "change-manager")
    page.goto("/cab")
    page.get_by_label(f"Outcome for {changes[0]}").select_option("approved")
    page.get_by_label(f"Comment for {changes[0]}").fill("Go, with the network team on call.")
    page.get_by_label(f"Outcome for {changes[1]}").select_option("rejected")
    page.get_by_label(f"Comment for {changes[1]}").fill("Clashes with the freeze.")
    screenshot(page, "cab-agenda")
    page.get_by_role("button", name="Record outcomes").click()

    expect(page.locator(".flash-info")).to_contain_text(f"Recorded: {changes[0]} approved, {changes[1]} rejected.")
    expect(page.locator("tr[data-business-key]")).to_have_count(0)
    approved = live.api("GET", f"/instances/{changes[0]}", "change-manager")
    rejected = live.api("GET", f"/instances/{changes[1]}", "change-manager")
    assert approved["data"]["authorized"] is True
    assert approved["data"]["cab_result"]["chair_comment"] == "Go, with the network team on call."
    assert [t["element_id"] for t in rejected["tasks"]] == ["rework_request_for_change"]


def test_a_practitioner_is_refused_the_agenda(live, new_page):
    page = new_page()
    sign_in(page, live, "change-practitioner")
    expect(page.get_by_role("link", name="CAB", exact=True)).to_have_count(0)
    page.goto("/cab")
    expect(page.locator("main")).to_contain_text("CAB members, managers and owners")
