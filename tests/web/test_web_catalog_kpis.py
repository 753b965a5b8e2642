"""The standard change catalog and the KPI dashboard as server-rendered pages (the browser test draws the charts)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bench.kpi_history import insert_history
from tests.api.support import row_counts
from tests.api.test_catalog import template
from tests.api.test_kpis import HISTORY

pytestmark = pytest.mark.sqlite_only  # the SQL is covered on both backends by tests/api/test_kpis.py


@pytest.fixture
def published(http: Any, shipped: Any) -> dict[str, Any]:
    response = http.post("/api/change-templates", "change-owner", template())
    assert response.status_code == 201
    return response.get_json()


def test_the_catalog_lists_active_templates_with_a_raise_button(browser, published):
    page = browser("change-practitioner").get("/catalog")
    assert page.status == 200
    assert "Monthly OS patching" in page.text and 'aria-label="Raise Monthly OS patching"' in page.text
    assert "sat, sun 06:00–10:00" in page.text
    assert "Retire</button>" not in page.text  # only the owner sees it
    assert "Retire</button>" in browser("change-owner").get("/catalog").text


def test_a_window_outside_the_template_shows_the_error_beside_the_field(browser, app, published):
    client = browser("change-practitioner")
    before = row_counts(app)
    page = client.post("/catalog/server_patching", {"planned_start": "2026-01-12T07:00",
                                                    "planned_end": "2026-01-12T08:00"})
    assert page.status == 422
    assert page.errors() == ["The window must lie within an allowed window of 'server_patching': "
                             "sat,sun 06:00-10:00 UTC."]
    assert 'value="2026-01-12T07:00"' in page.text  # what was typed is kept
    assert row_counts(app) == before


def test_raising_from_the_page_lands_on_the_new_record(browser, published):
    client = browser("change-practitioner")
    page = client.post("/catalog/server_patching", {"planned_start": "2026-01-10T07:00",
                                                    "planned_end": "2026-01-10T08:00", "notes": "nodes 1-3"})
    assert page.status == 302
    assert page.location.startswith("/changes/CHG-")
    record = client.get(page.location)
    assert "needs no approval" in " ".join(record.flashes())
    assert "Monthly OS patching" in record.text


def test_a_retired_template_is_refused_on_the_page(browser, app, published):
    owner = browser("change-owner")
    assert owner.post("/catalog/server_patching/retire", {"confirm": "yes"}).status == 302
    before = row_counts(app)
    page = browser("change-practitioner").post("/catalog/server_patching", {
        "planned_start": "2026-01-10T07:00", "planned_end": "2026-01-10T08:00"})
    assert page.status == 409
    assert any("was retired on 2026-01-05 by change-owner" in message for message in page.flashes())
    assert row_counts(app) == before
    assert "Monthly OS patching" not in browser("change-practitioner").get("/catalog").text


PUBLISHED = {"key": "mail_patching", "name": "Mail server patching", "service": "mail",
             "implementation_plan": "patch the relays one by one", "backout_plan": "restore the snapshot",
             "test_plan": "send a test mail", "max_risk": "low",
             "allowed_windows": "sat,sun 06:00-10:00\nmon 22:00-23:30"}


def test_the_publish_form_offers_the_services_of_the_catalog(browser, app, shipped):
    from schedule.store import ScheduleStore

    with app.extensions["changeflow"].database.snapshot() as session:
        catalog = ScheduleStore(session).service_names()
    page = browser("change-owner").get("/catalog/new")
    assert page.status == 200
    select = re.search(r'<select id="field-service" name="service"[^>]*>(.*?)</select>', page.text, re.S)
    assert select is not None, page.text
    assert re.findall(r'<option value="([^"]+)"', select.group(1)) == catalog == ["billing", "customer portal",
                                                                                   "mail", "payroll"]
    assert 'href="/catalog/new"' in browser("change-owner").get("/catalog").text
    assert browser("change-practitioner").get("/catalog/new").status == 403
    assert 'href="/catalog/new"' not in browser("change-practitioner").get("/catalog").text


def test_the_owner_publishes_a_template_from_the_page(browser, app, shipped, http):
    client = browser("change-owner")
    page = client.post("/catalog", PUBLISHED)
    assert page.status == 302 and page.location == "/catalog"
    assert "'Mail server patching' version 1 is published on mail." in client.get("/catalog").flashes()
    [template] = http.get("/api/change-templates", "change-practitioner").get_json()
    assert (template["key"], template["service"], template["allowed_windows"]) == ("mail_patching", "mail", [
        {"days": ["sat", "sun"], "start": "06:00", "end": "10:00"},
        {"days": ["mon"], "start": "22:00", "end": "23:30"}])
    assert browser("change-practitioner").post("/catalog", PUBLISHED).status == 403


@pytest.mark.parametrize("changed, field, message", [
    ({"service": "mainframe"}, "service", "'mainframe' is not a service of the catalog. The catalog has: billing, "
     "customer portal, mail, payroll. To add it, the change owner or an admin uses Services in the web app, "
     "POST /api/services, or: flask --app app services add 'mainframe'."),
    ({"allowed_windows": "weekends 06:00-10:00"}, "allowed_windows", "Line 1 ('weekends 06:00-10:00'): write a "
     "window as DAYS HH:MM-HH:MM, for example sat,sun 06:00-10:00 (UTC)."),
])
def test_a_template_the_page_cannot_publish_shows_why_beside_the_field(browser, app, shipped, http, changed, field,
                                                                       message):
    before = row_counts(app)
    page = browser("change-owner").post("/catalog", {**PUBLISHED, **changed})
    assert page.status == 422
    assert page.errors() == [message]
    assert f'aria-describedby="field-{field}-help field-{field}-error"' in page.text
    assert 'value="mail_patching"' in page.text  # what was typed is kept
    assert row_counts(app) == before
    assert http.get("/api/change-templates", "change-owner").get_json() == []


def test_removing_a_service_an_active_template_names_is_refused_on_the_page(browser, app, published):
    owner = browser("change-owner")
    before = row_counts(app)
    page = owner.post("/services/payroll/delete", {})
    assert page.status == 409
    assert ("The service &#39;payroll&#39; is named by active standard change templates: &#39;server_patching&#39; "
            "(Monthly OS patching).") in page.text
    assert row_counts(app) == before
    assert 'action="/services/payroll/delete"' in owner.get("/services").text  # still in the catalog


def test_the_dashboard_shows_the_known_answers_and_exports_csv(browser, app, shipped):
    with app.extensions["changeflow"].database.transaction() as session:
        insert_history(session, HISTORY)
    client = browser("change-manager")
    page = client.get("/kpis?practice=change&from=2025-12-01&to=2026-01-31")
    assert page.status == 200
    html = re.sub(r">\s+<", "><", page.text)
    assert '<tr data-metric="closed"><th scope="row" title="Changes closed in the period.">closed</th>' \
           '<td data-period="2025-12">8</td><td data-period="2026-01">1</td>' in html
    assert '<td data-period="2025-12">31.2</td>' in page.text
    assert 'vendor/chartjs/chart.umd.min.js' in page.text
    export = client.get("/kpis.csv?practice=change&from=2025-12-01&to=2026-01-31")
    assert export.status == 200 and export.response.mimetype == "text/csv"
    assert export.text.splitlines()[1].startswith(
        "change,2025-12,2025-12-01T00:00:00+00:00,2026-01-01T00:00:00+00:00,8,")


def test_bad_dates_fall_back_to_the_last_periods_and_say_so(browser, shipped):
    page = browser("change-owner").get("/kpis?from=2026-13-45&to=2026-01-01")
    assert page.status == 200
    assert "'2026-13-45' is not a day (YYYY-MM-DD); showing the last periods instead." in page.flashes()
    assert page.text.count('<td data-period="') == 6 * 20  # six months x the change metrics


def test_a_range_where_nothing_closed_says_so_instead_of_drawing_empty_charts(browser, app, shipped):
    page = browser("change-manager").get("/kpis?practice=change&from=2025-12-01&to=2026-01-31")
    assert page.status == 200
    assert "No change record was closed from 2025-12 to 2026-01." in page.text
    assert 'id="kpi-data"' not in page.text and "<canvas" not in page.text
    assert page.text.count('<td data-period="') == 2 * 20  # the table stays: every figure is zero or none
    with app.extensions["changeflow"].database.transaction() as session:
        insert_history(session, HISTORY)
    page = browser("change-manager").get("/kpis?practice=change&from=2025-12-01&to=2026-01-31")
    assert "was closed from" not in page.text and 'id="kpi-data"' in page.text and "<canvas" in page.text
