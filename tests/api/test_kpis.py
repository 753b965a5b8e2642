"""Process KPIs against a seeded history with known answers, as JSON and CSV; who may see them; and the
figures of a change run through the shipped process (so that the SQL reads what the engine really writes)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.kpi_history import Record, Task, insert_history
from engine.states import InstanceStatus
from tests.api.support import assert_problem


def at(day: int, hour: int = 0, month: int = 12, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def outcome(result: str | None, closure: str = "successful", **more: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"closure_code": closure, **more}
    if result is not None:
        data["implementation_outcome"] = result
    return data


HISTORY = [
    # December 2025: eight closed changes (closure lead times 24, 48, 12, 6, 4, 2, 8, 1 hours)
    Record("normal_change", at(1), at(2), outcome("successful", authorized=True),
           [Task("authorize_change", at(1), at(1, 10), due_at=at(3))]),  # authorized after 10 h, in time
    Record("normal_change", at(2), at(4), outcome("backed_out", "backed_out", authorized=True),
           [Task("rework_request_for_change", at(2, 1), at(2, 12)),
            Task("authorize_high_risk_change", at(2, 12), at(3, 6), due_at=at(3))]),  # 30 h, 6 h late
    Record("normal_change", at(5), at(5, 12), outcome("failed", "failed", authorized=True),
           [Task("authorize_change", at(5), at(5, 2), due_at=at(7))], release_outcomes=["rolled_back"]),  # 2 h
    Record("normal_change", at(6), at(6, 6), outcome(None, "rejected")),  # rejected at assessment
    Record("standard_change", at(7), at(7, 4), outcome("successful", authorized=True)),
    Record("standard_change", at(8), at(8, 2), outcome("successful", authorized=True)),
    Record("emergency_change", at(9), at(9, 8), outcome("successful", authorized=True),
           [Task("authorize_emergency_change", at(9), at(9, 1))]),  # 1 h
    Record("normal_change", at(11), at(11, 1), {"title": "withdrawn"},
           [Task("rework_request_for_change", at(11), at(11, 0) + timedelta(minutes=30))],
           status=InstanceStatus.CANCELLED),
    # still open: in no period
    Record("normal_change", at(10), None, {"title": "open"}),
    # January 2026: one change, requested in December (authorized after 12 h, closed after 72 h)
    Record("normal_change", at(30), at(2, month=1, year=2026), outcome("successful", authorized=True),
           [Task("authorize_change", at(30), at(30, 12), due_at=at(1, month=1, year=2026))]),
    # releases, December: deployed (3 changes, 24 h), rolled back (1 change, 12 h), cancelled (2 changes, 1 h)
    Record("release", at(14), at(15), {"outcome": "deployed", "change_keys": ["CHG-1", "CHG-2", "CHG-3"]}),
    Record("release", at(20), at(20, 12), {"outcome": "rolled_back", "change_keys": ["CHG-4"]}),
    Record("release", at(21), at(21, 1), {"outcome": "cancelled", "change_keys": ["CHG-5", "CHG-6"]},
           status=InstanceStatus.CANCELLED),
]

DECEMBER = {
    "closed": 8, "normal": 5, "standard": 2, "emergency": 1, "other": 0,
    "standard_ratio": 0.25, "emergency_ratio": 0.125,
    "implemented": 6, "successful": 4, "success_rate": 0.6667, "backed_out": 1, "rolled_back": 1,
    "authorized": 4,
    "authorization_lead_time_median_hours": 6.0,  # of 1, 2, 10, 30
    "authorization_lead_time_p90_hours": 24.0,  # 10 + 0.7 * (30 - 10)
    "closure_lead_time_median_hours": 7.0,  # of 1, 2, 4, 6, 8, 12, 24, 48
    "closure_lead_time_p90_hours": 31.2,  # 24 + 0.3 * (48 - 24)
    "authorization_sla_breaches": 1, "reworked": 2, "rework_rate": 0.25,
}
JANUARY = {
    "closed": 1, "normal": 1, "standard": 0, "emergency": 0, "other": 0, "standard_ratio": 0.0,
    "emergency_ratio": 0.0, "implemented": 1, "successful": 1, "success_rate": 1.0, "backed_out": 0,
    "rolled_back": 0, "authorized": 1, "authorization_lead_time_median_hours": 12.0,
    "authorization_lead_time_p90_hours": 12.0, "closure_lead_time_median_hours": 72.0,
    "closure_lead_time_p90_hours": 72.0, "authorization_sla_breaches": 0, "reworked": 0, "rework_rate": 0.0,
}


@pytest.fixture
def history(app: Any, shipped: Any) -> None:
    with app.extensions["changeflow"].database.transaction() as session:
        insert_history(session, HISTORY)


def test_change_kpis_per_month_match_the_known_answers(http, history):
    response = http.get("/api/kpis?practice=change&period=month&from=2025-12-01&to=2026-01-31", "change-manager")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["practice"], body["period"]) == ("change", "month")
    assert [(p["period"], p["start"], p["end"]) for p in body["periods"]] == [
        ("2025-12", "2025-12-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
        ("2026-01", "2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00")]
    assert body["periods"][0]["metrics"] == DECEMBER
    assert body["periods"][1]["metrics"] == JANUARY
    assert set(body["definitions"]) == set(DECEMBER)


def test_weeks_bucket_by_closure(http, history):
    body = http.get("/api/kpis?practice=change&period=week&from=2025-12-01&to=2025-12-14", "change-owner").get_json()
    assert [(p["period"], p["metrics"]["closed"], p["metrics"]["normal"], p["metrics"]["standard"])
            for p in body["periods"]] == [("2025-W49", 5, 4, 1), ("2025-W50", 3, 1, 1)]


def test_release_kpis_match_the_known_answers(http, history):
    body = http.get("/api/kpis?practice=release&from=2025-12-01&to=2025-12-31", "release-owner").get_json()
    assert body["periods"][0]["metrics"] == {
        "closed": 3, "deployed": 1, "rolled_back": 1, "changes_per_release": 2.0,
        "closure_lead_time_median_hours": 12.0, "closure_lead_time_p90_hours": 21.6}


def test_the_default_is_the_last_six_months_up_to_today(http, history):
    body = http.get("/api/kpis", "change-manager").get_json()  # the fake clock says 2026-01-05
    assert [p["period"] for p in body["periods"]] == ["2025-08", "2025-09", "2025-10", "2025-11", "2025-12",
                                                      "2026-01"]
    assert [p["metrics"]["closed"] for p in body["periods"]] == [0, 0, 0, 0, 8, 1]
    assert body["periods"][0]["metrics"]["success_rate"] is None  # nothing to measure


def test_the_csv_export_has_one_line_per_period(http, history):
    response = http.get("/api/kpis.csv?practice=change&from=2025-12-01&to=2026-01-31", "admin")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="kpis-change-month-2025-12.csv"'
    lines = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [line["period"] for line in lines] == ["2025-12", "2026-01"]
    assert {name: lines[0][name] for name in ("practice", "closed", "success_rate", "closure_lead_time_p90_hours")} == {
        "practice": "change", "closed": "8", "success_rate": "0.6667", "closure_lead_time_p90_hours": "31.2"}


@pytest.mark.parametrize("path", ["/api/kpis?practice=change", "/api/kpis.csv?practice=change"])
@pytest.mark.parametrize("user, status", [
    ("change-owner", 200), ("change-manager", 200), ("admin", 200), ("change-practitioner", 403),
    ("release-manager", 404), ("nobody", 404), (None, 401)])
def test_owners_managers_and_admins_see_the_kpis(http, shipped, path, user, status):
    response = http.get(path, user)
    if status == 200:
        assert response.status_code == 200
    else:
        body = assert_problem(response, status)
        if status == 403:
            assert body["detail"] == "Only an owner or manager of change (or an admin) may see its KPIs."


@pytest.mark.parametrize("query, field", [
    ("period=year", "period"), ("from=2025-12-01", "to"), ("from=2026-01-01&to=2025-12-01", "to"),
    ("period=week&from=2020-01-01&to=2025-12-31", "to"), ("from=yesterday&to=2025-12-31", "from"),
    ("colour=blue", "colour"), ("from=0001-01-01&to=0001-01-02", "to"),
    ("period=week&from=9999-12-30&to=9999-12-31", "to")])
def test_bad_arguments_are_422_with_the_field(http, shipped, query, field):
    body = assert_problem(http.get(f"/api/kpis?{query}", "admin"), 422, "validation-failed")
    assert field in body["errors"], body


def test_a_change_run_through_the_shipped_process_is_counted(http, shipped, clock, app_engine):
    """The SQL reads what the engine writes: the authorization task, the data's outcome and 'authorized'."""
    close = http.change_at(clock, app_engine, "close_change")  # authorized at once, then 2 days later implemented
    http.complete(close["id"], "change-manager", {"closure_code": "successful"})
    metrics = http.get("/api/kpis?from=2026-01-01&to=2026-01-31", "change-owner").get_json()["periods"][0]["metrics"]
    assert {name: metrics[name] for name in ("closed", "normal", "implemented", "successful", "authorized",
                                             "authorization_lead_time_median_hours", "closure_lead_time_median_hours",
                                             "authorization_sla_breaches", "reworked")} == {
        "closed": 1, "normal": 1, "implemented": 1, "successful": 1, "authorized": 1,
        "authorization_lead_time_median_hours": 0.0, "closure_lead_time_median_hours": 48.0,
        "authorization_sla_breaches": 0, "reworked": 0}


def test_records_follow_new_closures_and_a_release_rolled_back_later(http, app, shipped):
    """kpi_record catches up with records closed after the last report, and a release rolled back after its
    change closed marks that change as rolled back."""
    from sqlalchemy import select

    from engine.models import ProcessInstance

    database = app.extensions["changeflow"].database
    with database.transaction() as session:
        insert_history(session, [Record("normal_change", at(1), at(2), outcome("successful", authorized=True))])
        change_key = session.scalar(select(ProcessInstance.business_key).order_by(ProcessInstance.id.desc()))

    def december() -> dict[str, Any]:
        response = http.get("/api/kpis?from=2025-12-01&to=2025-12-31", "change-owner")
        return response.get_json()["periods"][0]["metrics"]

    assert (december()["closed"], december()["rolled_back"]) == (1, 0)
    with database.transaction() as session:
        insert_history(session, [
            Record("normal_change", at(3), at(4), outcome("failed", "failed")),
            Record("release", at(10), at(20), {"outcome": "rolled_back", "change_keys": [change_key]})])
    assert (december()["closed"], december()["implemented"], december()["rolled_back"]) == (2, 2, 1)
