"""Who may call what: every route x {no token, bad token, practitioner, manager, owner, admin, other practice}.

One row per route. ``setup`` makes a fresh resource for each caller (so that one caller's success does not
change what the next one meets) and returns the values for the path and body. The callers are the change
practice's practitioner, manager and owner, the admin, and ``release-manager`` for "a user of the other
practice". A new route without a row fails test_the_matrix_covers_every_route.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api import diagrams
from tests.api.support import change_request
from tests.notifications.support import a_dead_letter, a_notice, a_webhook

# HTTP behaviour that does not depend on the SQL dialect: one backend is enough (tests/engine and
# tests/roles cover the SQL on both).
pytestmark = pytest.mark.sqlite_only

CALLERS = ("anonymous", "bad token", "change-practitioner", "change-manager", "change-owner", "admin",
           "release-manager")
BAD_TOKEN = {"Authorization": "Bearer cf_this-is-not-a-token"}
_names = itertools.count(1)


def expect(practitioner: int, manager: int, owner: int, admin: int, other: int, *, anonymous: int = 401) -> dict:
    """Expected status per caller; without a token (or with a bad one) it is 401 unless said otherwise."""
    return dict(zip(CALLERS, (anonymous, anonymous, practitioner, manager, owner, admin, other), strict=True))


# -- setups: each makes a fresh resource and returns the path and body values -----------------------------


def nothing(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    return {}


def a_change(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    """A normal change waiting for assessment (requested by change-practitioner-2)."""
    instance = http.start_change(clock, user="change-practitioner-2")
    return {"instance_id": instance["id"], "task_id": instance["tasks"][0]["id"],
            "business_key": instance["business_key"]}


def a_claimed_change(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    values = a_change(http, clock, engine)
    assert http.post(f"/api/tasks/{values['task_id']}/claim", "change-manager").status_code == 200
    return values


def a_suspended_change(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    values = a_change(http, clock, engine)
    assert http.post(f"/api/instances/{values['instance_id']}/suspend", "admin").status_code == 200
    return values


def a_failed_instance(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    """An instance of 'divide' stopped by an incident (division by zero)."""
    http.post("/api/process-models/divide/versions", "admin", {"bpmn": diagrams.DIVIDE, "practice": "change"})
    instance = http.post("/api/instances", "change-manager", {"process": "divide", "data": {"divisor": 0}})
    assert instance.get_json()["status"] == "error"
    return {"instance_id": instance.get_json()["id"]}


def a_waiting_instance(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    """An instance of 'wait_for_approval' waiting for the message 'approval'."""
    http.post("/api/process-models/wait_for_approval/versions", "admin",
              {"bpmn": diagrams.WAIT_FOR_APPROVAL, "practice": "change"})
    instance = http.post("/api/instances", "change-manager", {"process": "wait_for_approval",
                                                              "data": {"change_ref": "A"}})
    return {"business_key": instance.get_json()["business_key"]}


def a_locked_external_task(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    """A 'build' external task of the change practice, locked by the worker 'w1' (change-practitioner's token)."""
    http.post("/api/process-models/build/versions", "admin", {"bpmn": diagrams.BUILD, "practice": "change"})
    assert http.post("/api/instances", "change-practitioner", {"process": "build"}).status_code == 201
    locked = http.post("/api/external-tasks/fetch-and-lock", "change-practitioner",
                       {"worker_id": "w1", "topics": [{"topic": "build", "lock_duration": 60_000}]}).get_json()
    return {"task_id": locked[0]["id"]}


def a_new_name(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    return {"name": f"user-{next(_names)}", "key": f"review_{next(_names)}"}


def a_new_user(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    name = f"user-{next(_names)}"
    assert http.post("/api/users", "admin", {"username": name}).status_code == 201
    return {"username": name}


def a_token(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    return {"token_id": http.post("/api/users/nobody/tokens", "admin", {}).get_json()["id"]}


def an_assignment(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    response = http.post("/api/role-assignments", "admin",
                         {"user": "nobody", "role": "practitioner", "practice": f"p{next(_names)}"})
    return {"assignment_id": response.get_json()["id"]}


def a_change_at_the_cab(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    """A high-risk normal change awaiting the CAB (whose one member is 'nobody')."""
    http.post("/api/role-assignments", "admin", {"user": "nobody", "role": "cab", "practice": "change"})
    instance = http.start_change(clock, user="change-practitioner-2", impact="high", likelihood="high")
    task = http.open_task(instance["id"], "assess_change")
    http.complete(task["id"], "change-manager", {"assessment_decision": "accept"})
    http.open_task(instance["id"], "cab_vote")
    return {"business_key": instance["business_key"]}


def change_data(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    return {"data": change_request(clock)}


def two_versions_and_an_instance(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    """A model 'review_N' with two versions, and an instance of version 1 that can move to version 2."""
    key = f"review_{next(_names)}"
    for name in ("Review", "Review again"):
        bpmn = diagrams.REVIEW.replace('name="Review"', f'name="{name}"')
        assert http.post(f"/api/process-models/{key}/versions", "admin", {**REVIEW, "bpmn": bpmn}).status_code == 201
    assert http.post("/api/instances", "change-practitioner", {"process": key, "version": 1}).status_code == 201
    return {"key": key}


def a_service(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    name = f"service-{next(_names)}"
    assert http.post("/api/services", "admin", {"name": name}).status_code == 201
    return {"name": name}


def a_blackout(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    response = http.post("/api/blackouts", "admin", {"starts_at": "2027-01-01T00:00:00Z",
                                                     "ends_at": "2027-01-02T00:00:00Z", "reason": "Freeze"})
    return {"blackout_id": response.get_json()["id"]}


def a_practitioners_feed(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    feed = http.post("/api/calendar-feeds", "change-practitioner", {}).get_json()
    return {"token_id": feed["id"], "token": feed["url"].rsplit("/", 1)[1].removesuffix(".ics")}


def a_release(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    """A release being planned, carrying a normal change."""
    change = http.start_change(clock, user="change-practitioner-2")
    release = http.post("/api/instances", "release-manager", {"process": "release", "data": {
        "title": "R", "description": "R.", "change_keys": [change["business_key"]], "impact": "low",
        "planned_deployment": change["data"]["planned_start"]}}).get_json()
    return {"business_key": release["business_key"], "change_key": change["business_key"]}


def an_authorized_change(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    values = a_change(http, clock, engine)
    http.complete(values["task_id"], "change-manager", {"assessment_decision": "accept"})
    http.complete(http.open_task(values["instance_id"], "authorize_change")["id"], "change-manager",
                  {"authorization_decision": "authorize"})
    return values


SCHEDULE_WINDOW = {"service": "payroll", "planned_start": "2027-01-01T00:00:00Z",
                   "planned_end": "2027-01-01T01:00:00Z"}
WEEKEND = [{"days": ["sat", "sun"], "start": "06:00", "end": "10:00"}]
TEMPLATE = {"key": "{key}", "name": "OS patching", "service": "payroll", "implementation_plan": "apt upgrade",
            "backout_plan": "restore the snapshot", "test_plan": "smoke tests", "max_risk": "low",
            "allowed_windows": WEEKEND}


def a_template(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    """A fresh standard change template, published by the change owner."""
    key = f"template_{next(_names)}"
    assert http.post("/api/change-templates", "change-owner", substitute(TEMPLATE, {"key": key})).status_code == 201
    return {"key": key}


@dataclass(frozen=True)
class Row:
    method: str
    rule: str  # the Flask rule, as app.url_map has it
    expected: dict[str, int]
    setup: Callable[..., dict[str, Any]] = nothing
    body: Any = None  # a dict whose strings may name setup values as {name}; None sends no body
    path_values: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule}"


REVIEW = {"bpmn": diagrams.REVIEW, "practice": "change"}
MATRIX = [
    #   method  rule                                             practitioner manager owner admin other
    Row("GET", "/api/me", expect(200, 200, 200, 200, 200)),
    Row("GET", "/api/process-models", expect(200, 200, 200, 200, 200)),
    Row("GET", "/api/process-models/<process_key:key>", expect(200, 200, 200, 200, 200),
        path_values={"key": "normal_change"}),
    Row("GET", "/api/process-models/<process_key:key>/versions", expect(200, 200, 200, 200, 200),
        path_values={"key": "normal_change"}),
    Row("POST", "/api/process-models/<process_key:key>/versions", expect(403, 403, 201, 201, 403), a_new_name, REVIEW),
    Row("GET", "/api/process-models/<process_key:key>/versions/<id:number>", expect(200, 200, 200, 200, 200),
        path_values={"key": "normal_change", "number": "1"}),
    Row("GET", "/api/process-models/<process_key:key>/versions/<id:number>/start-form", expect(200, 200, 200, 200, 200),
        path_values={"key": "normal_change", "number": "1"}),
    Row("POST", "/api/process-models/validate", expect(403, 403, 200, 200, 403), body={**REVIEW, "key": "review"}),
    Row("GET", "/api/instances", expect(200, 200, 200, 200, 200)),
    Row("POST", "/api/instances", expect(201, 403, 403, 403, 403), change_data,
        {"process": "normal_change", "data": "{data}"}),
    Row("GET", "/api/instances/<id:instance_id>", expect(200, 200, 200, 200, 404), a_change),
    Row("GET", "/api/instances/<id:instance_id>/events", expect(200, 200, 200, 200, 404), a_change),
    Row("GET", "/api/instances/<business_key:business_key>", expect(200, 200, 200, 200, 404), a_change),
    # Anyone who may see the record may add a work note.
    Row("POST", "/api/instances/<id:instance_id>/notes", expect(201, 201, 201, 201, 404), a_change,
        {"text": "Checked with the service owner."}),
    Row("POST", "/api/instances/<id:instance_id>/suspend", expect(403, 200, 200, 200, 404), a_change),
    Row("POST", "/api/instances/<id:instance_id>/resume", expect(403, 200, 200, 200, 404), a_suspended_change),
    Row("POST", "/api/instances/<id:instance_id>/cancel", expect(403, 200, 200, 200, 404), a_change),
    Row("POST", "/api/instances/<id:instance_id>/retry", expect(403, 200, 200, 200, 404), a_failed_instance,
        {"data": {"divisor": 4}}),
    Row("GET", "/api/tasks", expect(200, 200, 200, 200, 200)),
    Row("GET", "/api/tasks/<string:task_id>", expect(200, 200, 200, 200, 404), a_change),
    # 'Assess change' is a manager's task: the owner and the admin do not hold that role.
    Row("POST", "/api/tasks/<string:task_id>/claim", expect(403, 200, 403, 403, 404), a_change),
    Row("POST", "/api/tasks/<string:task_id>/unclaim", expect(403, 200, 200, 200, 404), a_claimed_change),
    Row("POST", "/api/tasks/<string:task_id>/assign", expect(403, 200, 200, 200, 404), a_change,
        {"user": "change-manager"}),
    Row("POST", "/api/tasks/<string:task_id>/complete", expect(403, 200, 403, 403, 404), a_change,
        {"data": {"assessment_decision": "accept"}}),
    Row("POST", "/api/external-tasks/fetch-and-lock", expect(200, 200, 200, 200, 200),
        body={"worker_id": "w", "topics": [{"topic": "build", "lock_duration": 1000}]}),
    # The build task has no lane: the default role, practitioner, works it (through its worker's token).
    Row("POST", "/api/external-tasks/<string:task_id>/complete", expect(200, 403, 403, 403, 404),
        a_locked_external_task, {"worker_id": "w1", "variables": {"artifact": "a.tar"}}),
    Row("POST", "/api/external-tasks/<string:task_id>/failure", expect(200, 403, 403, 403, 404),
        a_locked_external_task, {"worker_id": "w1", "error_message": "disk full", "retries": 1}),
    Row("POST", "/api/external-tasks/<string:task_id>/extend-lock", expect(200, 403, 403, 403, 404),
        a_locked_external_task, {"worker_id": "w1", "new_duration": 1000}),
    Row("POST", "/api/messages", expect(200, 200, 200, 200, 404), a_waiting_instance,
        {"name": "approval", "correlation_keys": {"business_key": "{business_key}"},
         "payload": {"change_ref": "A", "ok": True}}),
    Row("GET", "/api/users", expect(403, 403, 403, 200, 403)),
    Row("POST", "/api/users", expect(403, 403, 403, 201, 403), a_new_name, {"username": "{name}"}),
    # Users read themselves: the path names change-practitioner.
    Row("GET", "/api/users/<string:username>", expect(200, 403, 403, 200, 403),
        path_values={"username": "change-practitioner"}),
    Row("POST", "/api/users/<string:username>/tokens", expect(403, 403, 403, 201, 403),
        path_values={"username": "nobody"}, body={}),
    Row("GET", "/api/users/<string:username>/tokens", expect(403, 403, 403, 200, 403),
        path_values={"username": "nobody"}),
    Row("POST", "/api/users/<string:username>/disable", expect(403, 403, 403, 200, 403), a_new_user),
    Row("POST", "/api/users/<string:username>/enable", expect(403, 403, 403, 200, 403), a_new_user),
    Row("DELETE", "/api/tokens/<id:token_id>", expect(403, 403, 403, 204, 403), a_token),
    Row("GET", "/api/roles", expect(200, 200, 200, 200, 200)),
    Row("GET", "/api/role-assignments", expect(200, 200, 200, 200, 200)),
    Row("POST", "/api/role-assignments", expect(403, 403, 403, 201, 403), a_new_name,
        {"user": "nobody", "role": "manager", "practice": "change"}),
    Row("DELETE", "/api/role-assignments/<id:assignment_id>", expect(403, 403, 403, 204, 403), an_assignment),
    Row("GET", "/healthz", expect(200, 200, 200, 200, 200, anonymous=200)),
    Row("GET", "/api/process-models/<process_key:key>/versions/<id:number>/diff", expect(200, 200, 200, 200, 200),
        path_values={"key": "normal_change", "number": "1"}),
    Row("POST", "/api/process-models/<process_key:key>/migrations", expect(403, 403, 200, 200, 403),
        two_versions_and_an_instance, {"from_version": 1, "to_version": 2, "dry_run": False}),
    Row("GET", "/api/services", expect(200, 200, 200, 200, 200)),
    Row("POST", "/api/services", expect(403, 403, 201, 201, 403), a_new_name, {"name": "{name}"}),
    Row("PATCH", "/api/services/<string:name>", expect(403, 403, 200, 200, 403), a_service, {"criticality": "low"}),
    Row("DELETE", "/api/services/<string:name>", expect(403, 403, 204, 204, 403), a_service),
    Row("GET", "/api/blackouts", expect(200, 200, 200, 200, 200)),
    Row("POST", "/api/blackouts", expect(403, 403, 201, 201, 403), body={
        "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2027-01-02T00:00:00Z", "reason": "Freeze"}),
    Row("DELETE", "/api/blackouts/<id:blackout_id>", expect(403, 403, 204, 204, 403), a_blackout),
    Row("GET", "/api/schedule-policies", expect(200, 200, 200, 200, 200)),
    Row("PUT", "/api/schedule-policies/<string:process_key>", expect(403, 403, 200, 200, 403),
        body={"lead_time_hours": 0}, path_values={"process_key": "normal_change"}),
    Row("GET", "/api/schedule", expect(200, 200, 200, 200, 200)),
    Row("POST", "/api/schedule/conflicts", expect(200, 200, 200, 200, 200), body=SCHEDULE_WINDOW),
    Row("GET", "/api/calendar-feeds", expect(200, 200, 200, 200, 200)),
    Row("POST", "/api/calendar-feeds", expect(201, 201, 201, 201, 201), body={}),
    Row("DELETE", "/api/calendar-feeds/<id:token_id>", expect(204, 404, 404, 404, 404), a_practitioners_feed),
    Row("GET", "/api/calendar/<string:token>.ics", expect(200, 200, 200, 200, 200, anonymous=200),
        a_practitioners_feed),
    Row("GET", "/api/releases/<string:business_key>/changes", expect(404, 404, 404, 200, 200), a_release),
    Row("PUT", "/api/releases/<string:business_key>/changes", expect(404, 404, 404, 200, 200), a_release,
        {"change_keys": ["{change_key}"]}),
    Row("POST", "/api/changes/<string:business_key>/reschedule", expect(403, 200, 200, 200, 404),
        an_authorized_change, {"planned_start": "2027-02-01T10:00:00Z", "planned_end": "2027-02-01T11:00:00Z"}),
    # The CAB (issue 14): CAB members, managers and owners read the agenda (release-manager reads release's);
    # the chair (a manager or owner of the practice) records outcomes; owners set their models' rules.
    Row("GET", "/api/cab/agenda", expect(403, 200, 200, 200, 200)),
    Row("POST", "/api/cab/decisions", expect(403, 200, 200, 200, 404), a_change_at_the_cab,
        {"decisions": [{"business_key": "{business_key}", "outcome": "approved", "comment": "Agreed."}]}),
    Row("GET", "/api/cab/rules", expect(200, 200, 200, 200, 200)),
    Row("PUT", "/api/cab/rules/<process_key:key>", expect(403, 403, 200, 200, 403),
        body={"quorum": 2, "decision_rule": "majority", "vote_hours": 24}, path_values={"key": "normal_change"}),
    # The change-model catalog: everyone in the practice reads it, the owner (or an admin) manages it, and a
    # standard change is raised by whoever may start standard_change (its start event is in the practitioners' lane).
    Row("GET", "/api/change-templates", expect(200, 200, 200, 200, 404)),
    Row("POST", "/api/change-templates", expect(403, 403, 201, 201, 404), a_new_name, TEMPLATE),
    Row("GET", "/api/change-templates/candidates", expect(403, 403, 200, 200, 404)),
    Row("POST", "/api/change-templates/candidates/approve", expect(403, 403, 409, 409, 404), a_new_name,
        {"key": "{key}", "name": "Payroll upgrade", "service": "payroll", "implementation_plan": "pg_upgrade",
         "max_risk": "low", "allowed_windows": WEEKEND}),  # 409: no change succeeded with that plan yet
    Row("GET", "/api/change-templates/<string:key>", expect(200, 200, 200, 200, 404), a_template),
    Row("GET", "/api/change-templates/<string:key>/versions", expect(200, 200, 200, 200, 404), a_template),
    Row("POST", "/api/change-templates/<string:key>/retire", expect(403, 403, 200, 200, 404), a_template),
    Row("POST", "/api/change-templates/<string:key>/changes", expect(201, 403, 403, 403, 404), a_template,
        {"planned_start": "2026-01-10T07:00:00Z", "planned_end": "2026-01-10T08:00:00Z"}),
    # KPIs: the owners and managers of the practice, and admins.
    Row("GET", "/api/kpis", expect(403, 200, 200, 200, 404)),
    Row("GET", "/api/kpis.csv", expect(403, 200, 200, 200, 404)),
    # Notifications: your own (a notice of change-manager's is nobody else's, not even the admin's).
    Row("GET", "/api/notifications", expect(200, 200, 200, 200, 200)),
    Row("GET", "/api/notifications/unread-count", expect(200, 200, 200, 200, 200)),
    Row("POST", "/api/notifications/<id:notice_id>/read", expect(404, 200, 404, 404, 404), a_notice),
    Row("POST", "/api/notifications/read-all", expect(200, 200, 200, 200, 200)),
    Row("GET", "/api/notification-preferences", expect(200, 200, 200, 200, 200)),
    Row("PUT", "/api/notification-preferences", expect(200, 200, 200, 200, 200),
        body={"kinds": ["escalation"], "digest": False}),
    Row("GET", "/api/webhooks", expect(403, 403, 403, 200, 403)),
    Row("POST", "/api/webhooks", expect(403, 403, 403, 201, 403), body={"url": "http://127.0.0.1:9/hook",
                                                                         "kinds": ["*"]}),
    Row("DELETE", "/api/webhooks/<id:subscription_id>", expect(403, 403, 403, 204, 403), a_webhook),
    Row("GET", "/api/dead-letters", expect(403, 403, 403, 200, 403)),
    Row("POST", "/api/dead-letters/<id:delivery_id>/replay", expect(403, 403, 403, 200, 403), a_dead_letter),
]


def substitute(value: Any, values: dict[str, Any]) -> Any:
    """Fill ``{name}`` placeholders in a body from the setup's values (a whole-string placeholder keeps its type)."""
    if isinstance(value, dict):
        return {key: substitute(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        return values[whole.group(1)] if whole else value.format(**values)
    return value


def call(http: Any, row: Row, caller: str, values: dict[str, Any]) -> Any:
    names = {**row.path_values, **{key: str(value) for key, value in values.items()}}
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda match: names[match.group(1)], row.rule)
    kwargs: dict[str, Any] = {}
    if row.body is not None:
        kwargs["json"] = substitute(row.body, values)
    if caller == "anonymous":
        return http.call(row.method, path, None, **kwargs)
    if caller == "bad token":
        return http.call(row.method, path, None, headers=BAD_TOKEN, **kwargs)
    return http.call(row.method, path, caller, **kwargs)


def test_the_matrix_covers_every_route(app):
    # The web pages have their own matrix (tests/web/test_web_authorization.py): sessions, not tokens.
    served = {(method, rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint != "static" and not rule.endpoint.startswith(("api-docs.", "web."))
              for method in rule.methods - {"HEAD", "OPTIONS"}}

    assert {(row.method, row.rule) for row in MATRIX} == served
    assert len(MATRIX) == len(served)


@pytest.mark.parametrize("row", MATRIX, ids=[row.id for row in MATRIX])
def test_who_may_call_what(http, clock, app_engine, shipped, row):
    actual = {}
    for caller in CALLERS:
        response = call(http, row, caller, row.setup(http, clock, app_engine))
        actual[caller] = response.status_code
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json", (caller, response.get_data())

    assert actual == row.expected
