"""The change-model catalog through HTTP: templates published, versioned and retired by the owner; standard
changes raised from them by practitioners (no approval, window checked); the maturity loop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api.support import assert_problem, row_counts

WEEKEND_MORNINGS = [{"days": ["sat", "sun"], "start": "06:00", "end": "10:00"}]
# The fake clock starts on Monday 2026-01-05 09:00 UTC; the Saturday after:
SATURDAY_7 = "2026-01-10T07:00:00Z"
SATURDAY_8 = "2026-01-10T08:00:00Z"


def template(**overrides: Any) -> dict[str, Any]:
    body = {"key": "server_patching", "name": "Monthly OS patching", "service": "payroll",
            "implementation_plan": "apt upgrade on each node, one at a time",
            "backout_plan": "restore the node snapshot", "test_plan": "payroll smoke tests",
            "max_risk": "low", "allowed_windows": WEEKEND_MORNINGS}
    body.update(overrides)
    return body


def publish(http: Any, **overrides: Any) -> dict[str, Any]:
    response = http.post("/api/change-templates", "change-owner", template(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_the_owner_publishes_a_template_and_practitioners_see_it(http, shipped):
    published = publish(http)
    assert published | {"id": 0, "published_at": None} == {
        "id": 0, "key": "server_patching", "version": 1, "practice": "change", "status": "active",
        "name": "Monthly OS patching", "service": "payroll",
        "implementation_plan": "apt upgrade on each node, one at a time",
        "backout_plan": "restore the node snapshot", "test_plan": "payroll smoke tests", "max_risk": "low",
        "allowed_windows": WEEKEND_MORNINGS, "source_changes": [], "published_by": "change-owner",
        "published_at": None, "retired_by": None, "retired_at": None}
    listed = http.get("/api/change-templates", "change-practitioner")
    assert listed.status_code == 200
    assert [(item["key"], item["version"]) for item in listed.get_json()] == [("server_patching", 1)]


@pytest.mark.parametrize("user, status", [("change-practitioner", 403), ("change-manager", 403),
                                          ("release-owner", 404), ("admin", 201)])
def test_only_the_owner_or_an_admin_publishes(http, shipped, app, user, status):
    before = row_counts(app, "event")
    response = http.post("/api/change-templates", user, template())
    assert response.status_code == status, response.get_json()
    if status != 201:
        assert_problem(response, status)
        assert http.get("/api/change-templates", "admin").get_json() == []
    assert row_counts(app, "event") == before


def test_a_template_with_bad_windows_is_refused_field_by_field(http, shipped):
    response = http.post("/api/change-templates", "change-owner", template(
        allowed_windows=[{"days": ["someday"], "start": "06:00", "end": "10:00"},
                         {"days": ["sat"], "start": "10:00", "end": "09:00"}], max_risk="extreme"))
    body = assert_problem(response, 422, "validation-failed")
    assert set(body["errors"]) == {"max_risk"}  # the schema's own check comes first
    response = http.post("/api/change-templates", "change-owner", template(
        allowed_windows=[{"days": ["someday"], "start": "06:00", "end": "10:00"},
                         {"days": ["sat"], "start": "10:00", "end": "09:00"}]))
    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"] == {"allowed_windows": [
        "Window 1: 'days' must list some of mon, tue, wed, thu, fri, sat, sun.",
        "Window 2: 'end' must be after 'start' on the same day (split a night window in two)."]}


def test_a_standard_change_from_a_template_needs_no_approval(http, shipped, clock, app_engine):
    publish(http)
    response = http.post("/api/change-templates/server_patching/changes", "change-practitioner",
                         {"planned_start": SATURDAY_7, "planned_end": SATURDAY_8, "notes": "nodes 1-3"})
    assert response.status_code == 201, response.get_json()
    change = response.get_json()
    assert change["process"] == "standard_change"
    assert change["status"] == "waiting"  # pre-authorized: waits for its planned start, no approval task
    assert change["tasks"] == []
    assert {key: change["data"][key] for key in ("standard_model", "template_version", "title", "affected_service",
                                                  "implementation_plan", "backout_plan", "test_plan", "max_risk",
                                                  "notes", "authorized")} == {
        "standard_model": "server_patching", "template_version": 1, "title": "Monthly OS patching",
        "affected_service": "payroll", "implementation_plan": "apt upgrade on each node, one at a time",
        "backout_plan": "restore the node snapshot", "test_plan": "payroll smoke tests", "max_risk": "low",
        "notes": "nodes 1-3", "authorized": True}
    assert change["next_timer_at"] == "2026-01-10T07:00:00+00:00"
    assert change["started_by"] == "change-practitioner"

    clock.advance(timedelta(days=5))  # Saturday 09:00
    app_engine.fire_due_timers()
    implement = http.open_task(change["id"], "implement_change")
    http.complete(implement["id"], "change-practitioner", {"implementation_outcome": "successful"})
    close = http.open_task(change["id"], "close_change")
    http.complete(close["id"], "change-practitioner", {"closure_code": "successful"})
    assert http.get(f"/api/instances/{change['id']}", "change-practitioner").get_json()["status"] == "completed"


@pytest.mark.parametrize("start, end, field, message", [
    ("2026-01-12T07:00:00Z", "2026-01-12T08:00:00Z", "planned_start", "must lie within an allowed window"),  # Monday
    ("2026-01-10T09:30:00Z", "2026-01-10T10:30:00Z", "planned_start", "sat,sun 06:00-10:00 UTC"),  # runs past 10:00
    (SATURDAY_8, SATURDAY_7, "planned_end", "Must be after the planned start."),
    ("tomorrow", SATURDAY_8, "planned_start", "Not a valid date-time"),
    ("2026-01-10T07:00:00", SATURDAY_8, "planned_start", "Add a timezone offset"),
    ("0001-01-01T00:00:00+14:00", SATURDAY_8, "planned_start", "Out of range"),
])
def test_a_window_outside_the_template_is_refused(http, shipped, app, start, end, field, message):
    publish(http)
    before = row_counts(app)
    response = http.post("/api/change-templates/server_patching/changes", "change-practitioner",
                         {"planned_start": start, "planned_end": end})
    body = assert_problem(response, 422, "validation-failed")
    assert message in " ".join(body["errors"][field]), body
    assert row_counts(app) == before


def test_the_schedule_rules_apply_to_a_change_from_a_template(http, shipped, app, clock):
    """A pre-approved change still obeys the schedule: the standard model's lead time, and no blackout."""
    publish(http)
    assert http.call("PUT", "/api/schedule-policies/standard_change", "change-owner", json=
                    {"lead_time_hours": 200, "exempt": False}).status_code == 200
    before = row_counts(app)
    response = http.post("/api/change-templates/server_patching/changes", "change-practitioner",
                         {"planned_start": SATURDAY_7, "planned_end": SATURDAY_8})
    body = assert_problem(response, 422, "validation-failed")
    assert "200 hours of lead time" in body["errors"]["planned_start"][0], body
    assert row_counts(app) == before

    assert http.call("PUT", "/api/schedule-policies/standard_change", "change-owner", json=
                    {"lead_time_hours": 0, "exempt": False}).status_code == 200
    assert http.post("/api/blackouts", "change-owner", {
        "starts_at": "2026-01-10T00:00:00Z", "ends_at": "2026-01-11T00:00:00Z", "reason": "Payroll run",
        "service": "payroll"}).status_code == 201
    before = row_counts(app)
    response = http.post("/api/change-templates/server_patching/changes", "change-practitioner",
                         {"planned_start": SATURDAY_7, "planned_end": SATURDAY_8})
    body = assert_problem(response, 422, "validation-failed")
    [message] = body["errors"]["planned_start"]
    assert "Payroll run" in message and "pre-approved only outside blackouts" in message, body
    assert row_counts(app) == before


def test_a_retired_template_is_refused(http, shipped, app, clock):
    publish(http)
    clock.advance(timedelta(hours=1))
    retired = http.post("/api/change-templates/server_patching/retire", "change-owner")
    assert retired.status_code == 200
    assert retired.get_json()["status"] == "retired"
    assert retired.get_json()["retired_by"] == "change-owner"
    before = row_counts(app)
    response = http.post("/api/change-templates/server_patching/changes", "change-practitioner",
                         {"planned_start": SATURDAY_7, "planned_end": SATURDAY_8})
    body = assert_problem(response, 409, "conflict", detail="The template 'server_patching' was retired on 2026-01-05")
    assert body["context"] == {"template": "server_patching", "retired_at": "2026-01-05T10:00:00+00:00"}
    assert row_counts(app) == before
    assert http.get("/api/change-templates", "change-practitioner").get_json() == []
    listed = http.get("/api/change-templates?include_retired=true", "change-practitioner").get_json()
    assert [(item["key"], item["status"]) for item in listed] == [("server_patching", "retired")]
    # retiring again changes nothing; a practitioner may not retire
    assert http.post("/api/change-templates/server_patching/retire", "change-owner").get_json()["retired_at"] == \
        "2026-01-05T10:00:00+00:00"
    assert_problem(http.post("/api/change-templates/server_patching/retire", "change-practitioner"), 403)


def test_templates_are_versioned_and_changes_use_the_active_version(http, shipped):
    publish(http)
    second = publish(http, implementation_plan="unattended-upgrades, then reboot", max_risk="medium")
    assert (second["version"], second["status"]) == (2, "active")
    versions = http.get("/api/change-templates/server_patching/versions", "change-practitioner").get_json()
    assert [(item["version"], item["status"]) for item in versions] == [(2, "active"), (1, "superseded")]
    change = http.post("/api/change-templates/server_patching/changes", "change-practitioner",
                       {"planned_start": SATURDAY_7, "planned_end": SATURDAY_8, "title": "Patch week 2"}).get_json()
    assert (change["data"]["template_version"], change["data"]["implementation_plan"], change["data"]["title"]) == \
        (2, "unattended-upgrades, then reboot", "Patch week 2")


def test_an_unknown_template_is_not_found(http, shipped):
    assert_problem(http.get("/api/change-templates/nothing", "change-practitioner"), 404)
    assert_problem(http.post("/api/change-templates/nothing/changes", "change-practitioner",
                             {"planned_start": SATURDAY_7, "planned_end": SATURDAY_8}), 404)
    assert_problem(http.post("/api/change-templates/nothing/retire", "change-owner"), 404)


def _successful_normal_change(http: Any, clock: Any, engine: Any, **overrides: Any) -> str:
    close = http.change_at(clock, engine, "close_change", **overrides)
    http.complete(close["id"], "change-manager", {"closure_code": "successful"})
    return close["business_key"]


def test_the_maturity_loop_proposes_repeated_successes_and_the_owner_approves(http, shipped, clock, app_engine):
    keys = [_successful_normal_change(http, clock, app_engine) for _ in range(3)]
    _successful_normal_change(http, clock, app_engine, implementation_plan="something else")
    found = http.get("/api/change-templates/candidates", "change-owner")
    assert found.status_code == 200, found.get_json()
    assert [(c["service"], c["implementation_plan"], c["successes"], c["changes"]) for c in found.get_json()] == [
        ("payroll", "pg_upgrade with links", 3, list(reversed(keys)))]
    assert http.get("/api/change-templates/candidates?min_successes=1", "change-owner").get_json()[1]["successes"] == 1
    assert_problem(http.get("/api/change-templates/candidates", "change-practitioner"), 403)

    approve = {"key": "payroll_upgrade", "name": "Payroll database upgrade", "service": "payroll",
               "implementation_plan": "pg_upgrade with links", "max_risk": "low", "allowed_windows": WEEKEND_MORNINGS}
    assert_problem(http.post("/api/change-templates/candidates/approve", "change-manager", approve), 403)
    refused = http.post("/api/change-templates/candidates/approve", "change-owner",
                        {**approve, "implementation_plan": "something else"})
    assert_problem(refused, 409, detail="a template needs 3")
    approved = http.post("/api/change-templates/candidates/approve", "change-owner", approve)
    assert approved.status_code == 201, approved.get_json()
    body = approved.get_json()
    assert (body["key"], body["version"], body["status"], body["backout_plan"], body["test_plan"],
            body["source_changes"]) == ("payroll_upgrade", 1, "active", "restore last night's snapshot",
                                        "run the payroll smoke tests", list(reversed(keys)))
    assert http.get("/api/change-templates/candidates", "change-owner").get_json() == []  # covered now


# -- the service is a reference to the schedule's catalog ------------------------------------------------


def _stored(app: Any) -> list[tuple[str, int, str, str, int | None]]:
    """The templates as stored: (key, version, status, service name, the id of the service it refers to)."""
    from sqlalchemy import select

    from catalog.models import ChangeTemplate
    with app.extensions["changeflow"].database.snapshot() as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(ChangeTemplate.key, ChangeTemplate.version, ChangeTemplate.status, ChangeTemplate.service,
                   ChangeTemplate.service_id).order_by(ChangeTemplate.key, ChangeTemplate.version))]


def _service_id(app: Any, name: str) -> int | None:
    from schedule.store import ScheduleStore
    with app.extensions["changeflow"].database.snapshot() as session:
        found = ScheduleStore(session).service(name)
        return found.id if found is not None else None


def test_a_template_refers_to_its_service_in_the_catalog(http, shipped, app):
    published = publish(http, service=" payroll ")
    assert published["service"] == "payroll"  # the API still shows the name
    assert _stored(app) == [("server_patching", 1, "active", "payroll", _service_id(app, "payroll"))]
    assert _service_id(app, "payroll") is not None


@pytest.mark.parametrize("user", ["change-owner", "admin"])
def test_a_template_naming_a_service_the_catalog_lacks_is_refused(http, shipped, app, user):
    before = row_counts(app)
    response = http.post("/api/change-templates", user, template(service="payrol"))
    body = assert_problem(response, 422, "validation-failed", detail="There is no service 'payrol' in the catalog.")
    [message] = body["errors"]["service"]
    assert message == ("'payrol' is not a service of the catalog. The catalog has: billing, customer portal, mail, "
                       "payroll. To add it, the change owner or an admin uses Services in the web app, "
                       "POST /api/services, or: flask --app app services add 'payrol'.")
    assert set(body["errors"]) == {"service"}
    assert row_counts(app) == before and _stored(app) == []
    # A new version on an unknown service leaves the active one as it was.
    publish(http)
    assert_problem(http.post("/api/change-templates", user, template(service="nowhere")), 422)
    assert _stored(app) == [("server_patching", 1, "active", "payroll", _service_id(app, "payroll"))]


def test_a_service_active_templates_name_cannot_leave_the_catalog(http, shipped, app):
    publish(http)
    publish(http, key="payroll_restart", name="Payroll restart")
    publish(http, key="mail_patching", name="Mail patching", service="mail")
    payroll = _service_id(app, "payroll")

    response = http.call("DELETE", "/api/services/payroll", "change-owner")
    body = assert_problem(response, 409, "conflict", detail=(
        "The service 'payroll' is named by active standard change templates: 'payroll_restart' (Payroll restart), "
        "'server_patching' (Monthly OS patching). Retire them, or publish new versions of them on another service, "
        "then remove it."))
    assert body["context"] == {"service": "payroll", "templates": ["payroll_restart", "server_patching"]}
    assert _service_id(app, "payroll") == payroll

    # Once no active template names it, it goes; the versions no longer in use keep its name, without the link.
    assert http.post("/api/change-templates/server_patching/retire", "change-owner").status_code == 200
    publish(http, key="payroll_restart", name="Payroll restart", service="billing")
    assert http.call("DELETE", "/api/services/payroll", "change-owner").status_code == 204
    assert _service_id(app, "payroll") is None
    assert _stored(app) == [("mail_patching", 1, "active", "mail", _service_id(app, "mail")),
                            ("payroll_restart", 1, "superseded", "payroll", None),
                            ("payroll_restart", 2, "active", "billing", _service_id(app, "billing")),
                            ("server_patching", 1, "retired", "payroll", None)]
    versions = http.get("/api/change-templates/server_patching/versions", "change-practitioner").get_json()
    assert [(item["service"], item["status"]) for item in versions] == [("payroll", "retired")]
    # A standard change from a template on a service still in the catalog is raised as before.
    raised = http.post("/api/change-templates/payroll_restart/changes", "change-practitioner",
                       {"planned_start": SATURDAY_7, "planned_end": SATURDAY_8})
    assert raised.status_code == 201, raised.get_json()
    assert raised.get_json()["data"]["affected_service"] == "billing"


def test_a_candidate_whose_service_left_the_catalog_is_refused_until_it_is_back(http, shipped, clock, app_engine,
                                                                               app):
    for _ in range(3):
        _successful_normal_change(http, clock, app_engine)
    assert http.call("DELETE", "/api/services/payroll", "change-owner").status_code == 204
    approve = {"key": "payroll_upgrade", "name": "Payroll database upgrade", "service": "payroll",
               "implementation_plan": "pg_upgrade with links", "max_risk": "low", "allowed_windows": WEEKEND_MORNINGS}
    before = row_counts(app)
    body = assert_problem(http.post("/api/change-templates/candidates/approve", "change-owner", approve), 422,
                          "validation-failed", detail="There is no service 'payroll' in the catalog.")
    assert "flask --app app services add 'payroll'" in body["errors"]["service"][0]
    assert row_counts(app) == before and _stored(app) == []

    assert http.post("/api/services", "change-owner", {"name": "payroll"}).status_code == 201
    approved = http.post("/api/change-templates/candidates/approve", "change-owner", approve)
    assert approved.status_code == 201, approved.get_json()
    assert _stored(app) == [("payroll_upgrade", 1, "active", "payroll", _service_id(app, "payroll"))]


def test_the_database_itself_keeps_an_active_template_on_a_service(http, shipped, app):
    """What goes round the removal rule (a plain DELETE, without the ORM) meets the check constraint."""
    from sqlalchemy import delete
    from sqlalchemy.exc import IntegrityError

    from schedule.models import Service
    publish(http)
    with pytest.raises(IntegrityError), app.extensions["changeflow"].database.transaction() as session:
        session.execute(delete(Service).where(Service.name == "payroll"))
    assert _stored(app) == [("server_patching", 1, "active", "payroll", _service_id(app, "payroll"))]
