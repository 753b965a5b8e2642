"""Who may open or post what in the web app: every page x {anonymous, practitioner, manager, owner, admin,
a user of the other practice}. The same policy as the API's matrix (roles/policy.py), seen through pages:
302 to sign in when anonymous, 403 with the reason when refused, 404 for another practice's records.

A new page without a row fails test_the_web_matrix_covers_every_route.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api.support import change_request
from tests.notifications import support as notifications
from tests.web.conftest import PASSWORD, WebClient

CALLERS = ("anonymous", "change-practitioner", "change-manager", "change-owner", "admin", "release-manager")
_names = itertools.count(1)


def expect(practitioner: int, manager: int, owner: int, admin: int, other: int, *, anonymous: int = 302) -> dict:
    return dict(zip(CALLERS, (anonymous, practitioner, manager, owner, admin, other), strict=True))


def nothing(http: Any, clock: Any) -> dict[str, Any]:
    return {}


def a_change(http: Any, clock: Any) -> dict[str, Any]:
    instance = http.start_change(clock, user="change-practitioner-2")
    return {"task_id": instance["tasks"][0]["id"], "business_key": instance["business_key"]}


def a_claimed_change(http: Any, clock: Any) -> dict[str, Any]:
    values = a_change(http, clock)
    assert http.post(f"/api/tasks/{values['task_id']}/claim", "change-manager").status_code == 200
    return values


def a_name(http: Any, clock: Any) -> dict[str, Any]:
    return {"name": f"person-{next(_names)}"}


def a_grant(http: Any, clock: Any) -> dict[str, Any]:
    response = http.post("/api/role-assignments", "admin",
                         {"user": "nobody", "role": "practitioner", "practice": f"p{next(_names)}"})
    return {"username": "nobody", "assignment_id": response.get_json()["id"]}


def a_token(http: Any, clock: Any) -> dict[str, Any]:
    return {"username": "nobody", "token_id": http.post("/api/users/nobody/tokens", "admin", {}).get_json()["id"]}


def a_user(http: Any, clock: Any) -> dict[str, Any]:
    name = f"person-{next(_names)}"
    assert http.post("/api/users", "admin", {"username": name}).status_code == 201
    return {"username": name}


def a_change_at_the_cab(http: Any, clock: Any) -> dict[str, Any]:
    """The chair's form recording 'approved' for a high-risk change awaiting the CAB (its member: nobody)."""
    http.post("/api/role-assignments", "admin", {"user": "nobody", "role": "cab", "practice": "change"})
    instance = http.start_change(clock, user="change-practitioner-2", impact="high", likelihood="high")
    http.complete(http.open_task(instance["id"], "assess_change")["id"], "change-manager",
                  {"assessment_decision": "accept"})
    key = instance["business_key"]
    return {"business_key": key, f"outcome-{key}": "approved"}


def a_template_form(http: Any, clock: Any) -> dict[str, Any]:
    """The publish form of a new template, on a service of the catalog."""
    return {"key": f"template_{next(_names)}", "name": "OS patching", "service": "payroll",
            "implementation_plan": "apt upgrade", "backout_plan": "restore the snapshot", "test_plan": "smoke tests",
            "max_risk": "low", "allowed_windows": "sat,sun 06:00-10:00"}


def a_notice(http: Any, clock: Any) -> dict[str, Any]:
    return notifications.a_notice(http, clock, http.client.application.extensions["changeflow"].engine)


def a_webhook(http: Any, clock: Any) -> dict[str, Any]:
    return notifications.a_webhook(http, clock, http.client.application.extensions["changeflow"].engine)


def a_dead_letter(http: Any, clock: Any) -> dict[str, Any]:
    return notifications.a_dead_letter(http, clock, http.client.application.extensions["changeflow"].engine)


def change_form(http: Any, clock: Any) -> dict[str, Any]:
    data = change_request(clock)
    return {name: value[:16] if name.startswith("planned_") else value for name, value in data.items()}


def a_service(http: Any, clock: Any) -> dict[str, Any]:
    name = f"service-{next(_names)}"
    assert http.post("/api/services", "admin", {"name": name}).status_code == 201
    return {"name": name}


def a_blackout(http: Any, clock: Any) -> dict[str, Any]:
    response = http.post("/api/blackouts", "admin", {"starts_at": "2027-01-01T00:00:00Z",
                                                     "ends_at": "2027-01-02T00:00:00Z", "reason": "Freeze"})
    return {"blackout_id": response.get_json()["id"]}


def a_template(http: Any, clock: Any) -> dict[str, Any]:
    """A fresh standard change template (weekend mornings), published by the change owner."""
    key = f"template_{next(_names)}"
    response = http.post("/api/change-templates", "change-owner", {
        "key": key, "name": "OS patching", "service": "payroll", "implementation_plan": "apt upgrade",
        "backout_plan": "restore the snapshot", "test_plan": "smoke tests", "max_risk": "low",
        "allowed_windows": [{"days": ["sat", "sun"], "start": "06:00", "end": "10:00"}]})
    assert response.status_code == 201
    return {"key": key}


@dataclass(frozen=True)
class Row:
    method: str
    rule: str
    expected: dict[str, int]
    setup: Callable[..., dict[str, Any]] = nothing
    form: dict[str, Any] | None = None  # {name} placeholders are filled from the setup's values
    path_values: dict[str, str] = field(default_factory=dict)
    form_from_setup: bool = False  # post the setup's values themselves as the form

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule}"


MATRIX = [
    #   method  rule                                                   practitioner manager owner admin other
    Row("GET", "/", expect(200, 200, 200, 200, 200)),
    Row("GET", "/sign-in", expect(200, 200, 200, 200, 200, anonymous=200)),
    Row("POST", "/sign-in", expect(302, 302, 302, 302, 302, anonymous=302),
        form={"username": "change-owner", "password": PASSWORD}),
    Row("POST", "/sign-out", expect(302, 302, 302, 302, 302)),
    Row("GET", "/account", expect(200, 200, 200, 200, 200)),
    Row("POST", "/account", expect(422, 422, 422, 422, 422), form={"current_password": "wrong"}),
    Row("GET", "/tasks/<string:task_id>", expect(200, 200, 200, 200, 404), a_change),
    # 'Assess change' is a manager's task: the owner and the admin do not hold that role.
    Row("POST", "/tasks/<string:task_id>/claim", expect(403, 302, 403, 403, 404), a_change),
    Row("POST", "/tasks/<string:task_id>/unclaim", expect(403, 302, 302, 302, 404), a_claimed_change),
    Row("POST", "/tasks/<string:task_id>/complete", expect(403, 302, 403, 403, 404), a_change,
        {"assessment_decision": "accept"}),
    Row("GET", "/start", expect(200, 200, 200, 200, 200)),
    Row("GET", "/start/<string:key>", expect(200, 403, 403, 403, 403), path_values={"key": "normal_change"}),
    Row("POST", "/start/<string:key>", expect(302, 403, 403, 403, 403), change_form,
        path_values={"key": "normal_change"}, form_from_setup=True),
    Row("GET", "/<any(changes, releases):folder>/<record_key:business_key>", expect(200, 200, 200, 200, 404),
        a_change, path_values={"folder": "changes"}),
    Row("GET", "/records/<record_key:business_key>", expect(302, 302, 302, 302, 404), a_change),
    Row("GET", "/records/<record_key:business_key>/diagram.json", expect(200, 200, 200, 200, 404), a_change),
    Row("POST", "/records/<record_key:business_key>/notes", expect(302, 302, 302, 302, 404), a_change,
        {"text": "A note."}),
    Row("POST", "/records/<record_key:business_key>/<string:action>", expect(403, 302, 302, 302, 404), a_change,
        {"confirm": "yes"}, path_values={"action": "suspend"}),
    Row("GET", "/find", expect(200, 200, 200, 200, 200)),
    Row("GET", "/admin/users", expect(403, 403, 403, 200, 403)),
    Row("POST", "/admin/users", expect(403, 403, 403, 302, 403), a_name, {"username": "{name}"}),
    Row("GET", "/admin/users/<string:username>", expect(403, 403, 403, 200, 403),
        path_values={"username": "nobody"}),
    Row("POST", "/admin/users/<string:username>/disable", expect(403, 403, 403, 302, 403), a_user),
    Row("POST", "/admin/users/<string:username>/enable", expect(403, 403, 403, 302, 403), a_user),
    Row("POST", "/admin/users/<string:username>/password", expect(403, 403, 403, 302, 403), a_user),
    Row("POST", "/admin/users/<string:username>/roles", expect(403, 403, 403, 302, 403), a_user,
        {"role": "manager", "practice": "change"}),
    Row("POST", "/admin/users/<string:username>/roles/<int:assignment_id>/revoke", expect(403, 403, 403, 302, 403),
        a_grant),
    Row("POST", "/admin/users/<string:username>/tokens", expect(403, 403, 403, 302, 403), a_user),
    Row("POST", "/admin/users/<string:username>/tokens/<int:token_id>/revoke", expect(403, 403, 403, 302, 403),
        a_token),
    Row("GET", "/assets/<path:filename>", expect(200, 200, 200, 200, 200, anonymous=200),
        path_values={"filename": "app.css"}),
    Row("GET", "/studio/<string:model_key>/versions", expect(200, 200, 200, 200, 200),
        path_values={"model_key": "normal_change"}),
    Row("GET", "/studio/<string:model_key>/versions/<int:number>/diagram.json", expect(200, 200, 200, 200, 200),
        path_values={"model_key": "normal_change", "number": "1"}),
    Row("GET", "/studio/<string:model_key>/migrations", expect(403, 403, 200, 200, 403),
        path_values={"model_key": "normal_change"}),
    # Nothing ticked: the owner is sent back to the page; the others are refused before anything is read.
    Row("POST", "/studio/<string:model_key>/migrations", expect(403, 403, 302, 302, 403),
        form={"from_version": "1", "to_version": "1"}, path_values={"model_key": "normal_change"}),
    # The studio: owners of the model's practice and admins. Its posts take JSON, so a form post is a 422.
    Row("GET", "/studio", expect(403, 403, 200, 200, 403)),
    Row("GET", "/studio/<string:key>", expect(403, 403, 200, 200, 403), path_values={"key": "normal_change"}),
    Row("POST", "/studio/<string:key>/validate", expect(403, 403, 422, 422, 403),
        path_values={"key": "normal_change"}),
    Row("POST", "/studio/<string:key>/deploy", expect(403, 403, 422, 422, 403), path_values={"key": "normal_change"}),
    Row("POST", "/studio/<string:key>/forms/preview", expect(403, 403, 422, 422, 403),
        path_values={"key": "normal_change"}),
    Row("GET", "/schedule", expect(200, 200, 200, 200, 200)),
    Row("GET", "/services", expect(200, 200, 200, 200, 200)),
    Row("POST", "/services", expect(403, 403, 302, 302, 403), a_name, {"name": "{name}"}),
    Row("POST", "/services/<string:name>/delete", expect(403, 403, 302, 302, 403), a_service),
    Row("POST", "/blackouts", expect(403, 403, 302, 302, 403), form={
        "starts_at": "2027-01-01T00:00", "ends_at": "2027-01-02T00:00", "reason": "Freeze"}),
    Row("POST", "/blackouts/<int:blackout_id>/delete", expect(403, 403, 302, 302, 403), a_blackout),
    Row("POST", "/schedule-policies", expect(403, 403, 302, 302, 403),
        form={"process_key": "normal_change", "lead_time_hours": "0"}),
    Row("POST", "/calendar-feeds", expect(302, 302, 302, 302, 302), form={}),
    # The CAB (issue 14): the agenda for CAB members, managers and owners; the chair records outcomes.
    Row("GET", "/cab", expect(403, 200, 200, 200, 200)),
    Row("POST", "/cab/decisions", expect(403, 302, 302, 302, 404), a_change_at_the_cab, form_from_setup=True),
    Row("GET", "/cab/rules", expect(200, 200, 200, 200, 200)),
    Row("POST", "/cab/rules/<string:key>", expect(403, 403, 302, 302, 403),
        form={"quorum": "2", "decision_rule": "majority", "vote_hours": "24"}, path_values={"key": "normal_change"}),
    # The standard change catalog: everyone in the practice reads it; practitioners raise (they may start
    # standard_change); the owner and admins publish and retire.
    Row("GET", "/catalog", expect(200, 200, 200, 200, 404)),
    Row("GET", "/catalog/new", expect(403, 403, 200, 200, 404)),
    Row("POST", "/catalog", expect(403, 403, 302, 302, 404), a_template_form, form_from_setup=True),
    Row("GET", "/catalog/<string:key>", expect(200, 200, 200, 200, 404), a_template),
    Row("POST", "/catalog/<string:key>", expect(302, 403, 403, 403, 404), a_template,
        {"planned_start": "2026-01-10T07:00", "planned_end": "2026-01-10T08:00", "notes": "nodes 1-3"}),
    Row("POST", "/catalog/<string:key>/retire", expect(403, 403, 302, 302, 404), a_template, {"confirm": "yes"}),
    # KPIs: owners and managers of the practice, admins.
    Row("GET", "/kpis", expect(403, 200, 200, 200, 404)),
    Row("GET", "/kpis.csv", expect(403, 200, 200, 200, 404)),
    # Notifications: your own; a notice of change-manager's is nobody else's, not even the admin's.
    Row("GET", "/notifications", expect(200, 200, 200, 200, 200)),
    Row("POST", "/notifications/<int:notice_id>/read", expect(404, 302, 404, 404, 404), a_notice),
    Row("POST", "/notifications/read-all", expect(302, 302, 302, 302, 302)),
    Row("GET", "/notifications/preferences", expect(200, 200, 200, 200, 200)),
    Row("POST", "/notifications/preferences", expect(302, 302, 302, 302, 302), form={"kinds": "escalation"}),
    Row("GET", "/admin/webhooks", expect(403, 403, 403, 200, 403)),
    Row("POST", "/admin/webhooks", expect(403, 403, 403, 302, 403),
        form={"url": "http://127.0.0.1:9/hook", "kinds": "*"}),
    Row("POST", "/admin/webhooks/<int:subscription_id>/delete", expect(403, 403, 403, 302, 403), a_webhook),
    Row("GET", "/admin/dead-letters", expect(403, 403, 403, 200, 403)),
    Row("POST", "/admin/dead-letters/<int:delivery_id>/replay", expect(403, 403, 403, 302, 403), a_dead_letter),
    Row("GET", "/admin/mail", expect(403, 403, 403, 200, 403)),
]


def test_the_web_matrix_covers_every_route(app):
    served = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("web.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}

    assert {(row.method, row.rule) for row in MATRIX} == served
    assert len(MATRIX) == len(served)


def request(app: Any, row: Row, caller: str, values: dict[str, Any]) -> Any:
    client = WebClient(app)
    if caller != "anonymous":
        assert client.sign_in(caller).status == 302
    names = {**row.path_values, **{key: str(value) for key, value in values.items()}}
    path = re.sub(r"<(?:[^<>]+:)?([^<>:]+)>", lambda match: names[match.group(1)], row.rule)
    if row.method == "GET":
        return client.get(path)
    form = dict(values) if row.form_from_setup else {
        key: value.format(**values) if isinstance(value, str) else value for key, value in (row.form or {}).items()}
    return client.post(path, form)


@pytest.mark.usefixtures("shipped")
@pytest.mark.parametrize("row", MATRIX, ids=[row.id for row in MATRIX])
def test_who_may_open_or_post_what(app, http, clock, passwords, row):
    actual = {}
    for caller in CALLERS:
        page = request(app, row, caller, row.setup(http, clock))
        actual[caller] = page.status
        if page.status == 302 and caller == "anonymous" and row.rule not in ("/sign-in",):
            assert page.location.startswith("/sign-in"), page.location
        assert page.status < 500, page.text

    assert actual == row.expected
