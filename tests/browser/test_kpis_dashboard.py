"""The KPI dashboard and the standard change catalog in Chromium: the charts draw on their canvases from the
seeded history, the table shows the known answers, and a practitioner raises a standard change from a template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bench.kpi_history import insert_history
from engine import Database
from tests.api.test_kpis import HISTORY
from tests.browser.conftest import LiveApp, screenshot

pytestmark = pytest.mark.browser
expect: Any = None


@pytest.fixture(autouse=True)
def _expect(chromium: Any) -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    expect = playwright_expect


@pytest.fixture(scope="module")
def history(live: LiveApp) -> None:
    database = Database(live.server.database_url)
    try:
        with database.transaction() as session:
            assert isinstance(session, Session)
            insert_history(session, HISTORY)
    finally:
        database.dispose()


def sign_in(page: Any, live: LiveApp, username: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(live.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My work")


def painted_pixels(page: Any, canvas_id: str) -> int:
    """How many pixels of the canvas are not transparent: a drawn chart paints thousands."""
    return page.evaluate("""(id) => {
        const canvas = document.getElementById(id);
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) painted++; }
        return painted;
    }""", canvas_id)


def test_the_dashboard_draws_its_charts_and_shows_the_numbers(new_page, live, history):
    page = new_page()
    sign_in(page, live, "change-owner")
    page.get_by_role("link", name="KPIs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("KPIs: change")
    page.goto("/kpis?practice=change&period=month&from=2025-12-01&to=2026-01-31")
    for canvas in ("chart-types", "chart-rates", "chart-lead-times"):
        expect(page.locator(f"#{canvas}")).to_have_attribute("data-drawn", "true")
        assert painted_pixels(page, canvas) > 1000, canvas
    drawn = page.evaluate("""() => {
        const chart = document.getElementById('chart-types').chart;
        return {labels: chart.data.labels, series: chart.data.datasets.map(d => [d.label, d.data])};
    }""")
    assert drawn == {"labels": ["2025-12", "2026-01"],
                     "series": [["normal", [5, 1]], ["standard", [2, 0]], ["emergency", [1, 0]]]}

    def cells(metric: str) -> list[str]:
        return page.locator(f'tr[data-metric="{metric}"] td').all_inner_texts()

    assert cells("closed") == ["8", "1"]
    assert cells("success_rate") == ["0.6667", "1.0"]
    assert cells("standard_ratio") == ["0.25", "0.0"]
    assert cells("authorization_lead_time_median_hours") == ["6.0", "12.0"]
    assert cells("closure_lead_time_p90_hours") == ["31.2", "72.0"]
    assert cells("authorization_sla_breaches") == ["1", "0"]
    assert cells("rework_rate") == ["0.25", "0.0"]
    csv_link = page.get_by_role("link", name="Download CSV")
    assert csv_link.get_attribute("href").startswith("/kpis.csv?")
    screenshot(page, "kpis")

    assert_not_found = page.goto("/kpis?practice=release")  # another practice's KPIs are not the change owner's
    assert assert_not_found is not None and assert_not_found.status == 404
    page = new_page()
    sign_in(page, live, "release-owner")
    page.goto("/kpis?practice=release&from=2025-12-01&to=2025-12-31")
    expect(page.locator("#chart-releases")).to_have_attribute("data-drawn", "true")
    assert painted_pixels(page, "chart-releases") > 1000
    assert cells("changes_per_release") == ["2.0"]


def test_a_practitioner_is_not_offered_the_dashboard(new_page, live):
    page = new_page()
    sign_in(page, live, "change-practitioner")
    expect(page.get_by_role("link", name="KPIs")).to_have_count(0)
    page.goto("/kpis")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")


def test_a_practitioner_raises_a_standard_change_from_the_catalog(new_page, live):
    saturday = datetime.now(UTC).date() + timedelta(days=(5 - datetime.now(UTC).weekday()) % 7 + 7)
    live.api("POST", "/services", "admin", json={"name": "web-gateway"})  # a template names a service of the catalog
    live.api("POST", "/change-templates", "change-owner", json={
        "key": "cert_renewal", "name": "Certificate renewal", "service": "web-gateway",
        "implementation_plan": "Install the renewed certificate; reload nginx.", "backout_plan": "Restore the old one.",
        "test_plan": "Check the chain with openssl.", "max_risk": "low",
        "allowed_windows": [{"days": ["sat"], "start": "06:00", "end": "10:00"}]})
    page = new_page()
    sign_in(page, live, "change-practitioner")
    page.get_by_role("link", name="Standard changes").click()
    page.get_by_role("link", name="Raise Certificate renewal").click()
    page.get_by_label("Planned start").fill(f"{saturday}T11:00")  # outside the window: refused, field by field
    page.get_by_label("Planned end").fill(f"{saturday}T11:30")
    page.get_by_role("button", name="Raise standard change").click()
    expect(page.locator("p.error").first).to_contain_text("must lie within an allowed window")
    page.get_by_label("Planned start").fill(f"{saturday}T07:00")
    page.get_by_label("Planned end").fill(f"{saturday}T07:30")
    page.get_by_label("Specifics").fill("gateway-1 and gateway-2")
    page.get_by_role("button", name="Raise standard change").click()
    expect(page.locator("p.flash").first).to_contain_text("needs no approval")
    expect(page.get_by_role("heading", level=1)).to_contain_text("CHG-")
