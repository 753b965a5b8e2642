"""Junk to every endpoint never makes a 5xx, and every refusal is a problem.

Wrong types, huge and negative numbers, unknown fields, missing bodies, invalid enum values, bytes that are
not UTF-8, NUL characters and very long strings, in the query, the path and the body, from users with and
without the rights to reach the deeper checks.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.api import diagrams
from tests.api.support import PROBLEM_FIELDS, PROBLEM_JSON, change_request
from tests.notifications.support import a_dead_letter, a_notice, a_webhook

# Malformed input is parsed before any SQL runs, so one backend is enough.
pytestmark = pytest.mark.sqlite_only

# Every route, as (METHOD, rule). test_the_fuzz_covers_every_route keeps it in step with the app.
ROUTES = [
    ("GET", "/api/me"),
    ("GET", "/api/process-models"),
    ("GET", "/api/process-models/<process_key:key>"),
    ("GET", "/api/process-models/<process_key:key>/versions"),
    ("POST", "/api/process-models/<process_key:key>/versions"),
    ("GET", "/api/process-models/<process_key:key>/versions/<id:number>"),
    ("GET", "/api/process-models/<process_key:key>/versions/<id:number>/start-form"),
    ("POST", "/api/process-models/validate"),
    ("GET", "/api/instances"),
    ("POST", "/api/instances"),
    ("GET", "/api/instances/<id:instance_id>"),
    ("GET", "/api/instances/<business_key:business_key>"),
    ("POST", "/api/instances/<id:instance_id>/notes"),
    ("GET", "/api/instances/<id:instance_id>/events"),
    ("POST", "/api/instances/<id:instance_id>/suspend"),
    ("POST", "/api/instances/<id:instance_id>/resume"),
    ("POST", "/api/instances/<id:instance_id>/cancel"),
    ("POST", "/api/instances/<id:instance_id>/retry"),
    ("GET", "/api/tasks"),
    ("GET", "/api/tasks/<string:task_id>"),
    ("POST", "/api/tasks/<string:task_id>/claim"),
    ("POST", "/api/tasks/<string:task_id>/unclaim"),
    ("POST", "/api/tasks/<string:task_id>/assign"),
    ("POST", "/api/tasks/<string:task_id>/complete"),
    ("POST", "/api/external-tasks/fetch-and-lock"),
    ("POST", "/api/external-tasks/<string:task_id>/complete"),
    ("POST", "/api/external-tasks/<string:task_id>/failure"),
    ("POST", "/api/external-tasks/<string:task_id>/extend-lock"),
    ("POST", "/api/messages"),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/users/<string:username>"),
    ("GET", "/api/users/<string:username>/tokens"),
    ("POST", "/api/users/<string:username>/tokens"),
    ("POST", "/api/users/<string:username>/disable"),
    ("POST", "/api/users/<string:username>/enable"),
    ("DELETE", "/api/tokens/<id:token_id>"),
    ("GET", "/api/roles"),
    ("GET", "/api/role-assignments"),
    ("POST", "/api/role-assignments"),
    ("DELETE", "/api/role-assignments/<id:assignment_id>"),
    ("GET", "/healthz"),
    ("GET", "/api/process-models/<process_key:key>/versions/<id:number>/diff"),
    ("POST", "/api/process-models/<process_key:key>/migrations"),
    ("GET", "/api/services"),
    ("POST", "/api/services"),
    ("PATCH", "/api/services/<string:name>"),
    ("DELETE", "/api/services/<string:name>"),
    ("GET", "/api/blackouts"),
    ("POST", "/api/blackouts"),
    ("DELETE", "/api/blackouts/<id:blackout_id>"),
    ("GET", "/api/schedule-policies"),
    ("PUT", "/api/schedule-policies/<string:process_key>"),
    ("GET", "/api/schedule"),
    ("POST", "/api/schedule/conflicts"),
    ("GET", "/api/calendar-feeds"),
    ("POST", "/api/calendar-feeds"),
    ("DELETE", "/api/calendar-feeds/<id:token_id>"),
    ("GET", "/api/calendar/<string:token>.ics"),
    ("GET", "/api/releases/<string:business_key>/changes"),
    ("PUT", "/api/releases/<string:business_key>/changes"),
    ("POST", "/api/changes/<string:business_key>/reschedule"),
    ("GET", "/api/cab/agenda"),
    ("POST", "/api/cab/decisions"),
    ("GET", "/api/cab/rules"),
    ("PUT", "/api/cab/rules/<process_key:key>"),
    ("GET", "/api/change-templates"),
    ("POST", "/api/change-templates"),
    ("GET", "/api/change-templates/candidates"),
    ("POST", "/api/change-templates/candidates/approve"),
    ("GET", "/api/change-templates/<string:key>"),
    ("GET", "/api/change-templates/<string:key>/versions"),
    ("POST", "/api/change-templates/<string:key>/retire"),
    ("POST", "/api/change-templates/<string:key>/changes"),
    ("GET", "/api/kpis"),
    ("GET", "/api/kpis.csv"),
    ("GET", "/api/notifications"),
    ("GET", "/api/notifications/unread-count"),
    ("POST", "/api/notifications/<id:notice_id>/read"),
    ("POST", "/api/notifications/read-all"),
    ("GET", "/api/notification-preferences"),
    ("PUT", "/api/notification-preferences"),
    ("GET", "/api/webhooks"),
    ("POST", "/api/webhooks"),
    ("DELETE", "/api/webhooks/<id:subscription_id>"),
    ("GET", "/api/dead-letters"),
    ("POST", "/api/dead-letters/<id:delivery_id>/replay"),
]
# The admin reaches the deepest checks of every route; who may call what is the authorization matrix's job.
USERS = ["admin"]
LONG = "x" * 20_000
JUNK_QUERIES = [
    "page=0", "page=-1", "page=abc", "page=1.5", "page=99999999999999999999", "page=9223372036854775808",
    "per_page=0", "per_page=100000", "per_page=", "page=1&page=2",
    "status=bogus", "state=bogus", "scope=bogus", "role=bogus", "assignee=" + LONG, "instance=abc",
    "instance=99999999999999999999", "instance=-5", "process=%00", "business_key=%ff%fe", "started_by=" + LONG,
    "user=%C3%28", "practice=*", "unknown=1", "%ff=%ff",
]
JUNK_BODIES = [
    None, b"", b" ", b"{", b"[]", b"null", b"true", b"1", b'"text"', b"\xff\xfe\xfa", b"\x00",
    b"[" * 50_000, b'{"a":' * 20_000, b'{"data": NaN}', b'{"data": {"x": 1e999}}',
    json.dumps({"unknown": 1}).encode(),
    json.dumps({"data": LONG, "process": 1, "version": "x", "user": [], "name": {}, "reason": 5}).encode(),
    json.dumps({"process": "normal_change", "version": 2**63}).encode(),
    json.dumps({"process": "normal_change", "data": {"title": LONG, "planned_start": "2026-13-45T99:00:00Z"}}).encode(),
    json.dumps({"process": "normal_change", "data": change_request(None, impact="catastrophic")}).encode(),
    json.dumps({"process": LONG}).encode(),
    json.dumps({"data": {"assessment_decision": ["accept"], "x" * 5000: 1}}).encode(),
    json.dumps({"data": {"assessment_decision": "accept", "assessment_notes": {"nested": [1, 2]}}}).encode(),
    json.dumps({"user": LONG, "role": "manager", "practice": LONG}).encode(),
    json.dumps({"user": "nobody", "role": "wizard", "practice": "change"}).encode(),
    json.dumps({"username": LONG, "email": "x" * 400 + "@example.com", "display_name": LONG}).encode(),
    json.dumps({"username": "Not Valid!"}).encode(),
    json.dumps({"expires_at": "yesterday"}).encode(),
    json.dumps({"expires_at": "9999-12-31T23:59:59-12:00"}).encode(),
    json.dumps({"expires_at": "0001-01-01T00:00:00+14:00"}).encode(),
    json.dumps({"bpmn": "<definitions/>", "practice": "change", "key": "k" * 500, "name": LONG}).encode(),
    json.dumps({"bpmn": "not xml at all", "practice": LONG, "key": "k"}).encode(),
    json.dumps({"bpmn": "<a>", "practice": "change", "forms": {"f": {"fields": "nope"}},
                "decisions": ["<bad"]}).encode(),
    json.dumps({"bpmn": diagrams.BROKEN, "practice": "change", "key": "broken", "forms": {"f": []}}).encode(),
    json.dumps({"name": "approval", "correlation_keys": {"business_key": {"x": 1}}, "payload": LONG}).encode(),
    json.dumps({"name": LONG, "correlation_keys": {"k": 2**70}, "payload": {"k": -(2**70)}}).encode(),
    json.dumps({"reason": LONG, "data": {"divisor": "zero"}}).encode(),
]
QUERY_POSTS = {"/api/process-models/<process_key:key>/versions"}  # the POSTs that read query parameters too
CONTENT_TYPES = ["application/json", None]
DEPLOY_CONTENT_TYPES = [*CONTENT_TYPES, "application/xml", "text/plain"]  # deploy reads raw XML bodies too
JUNK_IDS = ["0", "-1", "1.5", "abc", "2147483648", "99999999999999999999", "%00"]
JUNK_NAMES = ["%00", "a%00b", "x" * 3000, "%C3%28", "..", "%2F", "%E2%80%AE", " ", "CHG-000001"]


@pytest.fixture
def targets(http, clock, shipped, deploy, app_engine):
    """Real ids for every kind of path parameter (a running change, its task, a token, an assignment)."""
    instance = http.start_change(clock)
    token = http.post("/api/users/nobody/tokens", "admin", {}).get_json()
    assignment = http.post("/api/role-assignments", "admin",
                           {"user": "nobody", "role": "practitioner", "practice": "release"}).get_json()
    deploy("wait_for_approval", diagrams.WAIT_FOR_APPROVAL)
    return {"key": "normal_change", "number": "1", "instance_id": str(instance["id"]),
            "task_id": instance["tasks"][0]["id"], "username": "change-practitioner", "token_id": str(token["id"]),
            "assignment_id": str(assignment["id"]), "business_key": instance["business_key"],
            "name": "payroll", "blackout_id": "1", "process_key": "normal_change", "token": "cal_unknown",
            **{name: str(value) for setup in (a_notice, a_webhook, a_dead_letter)
               for name, value in setup(http, clock, app_engine).items()}}


def fill(rule: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda match: values[match.group(1)], rule)


def junk_paths(rule: str, values: dict[str, str]) -> list[str]:
    """The rule with real values, then with each parameter in turn replaced by junk."""
    paths = [fill(rule, values)]
    for match in re.finditer(r"<(?:([^:<>]+):)?([^<>]+)>", rule):
        converter, name = match.groups()
        for junk in (JUNK_IDS if converter == "id" else JUNK_NAMES):
            paths.append(fill(rule, {**values, name: junk}))
    return paths


def check(response, request: str, failures: list[str]) -> None:
    if response.status_code >= 500:
        failures.append(f"{response.status_code} for {request}: {response.get_data(as_text=True)[:200]}")
    elif response.status_code >= 400:
        body = response.get_json(silent=True) if response.mimetype == PROBLEM_JSON else None
        if not isinstance(body, dict) or not PROBLEM_FIELDS <= body.keys() or body["status"] != response.status_code:
            failures.append(f"{response.status_code} is not a problem for {request}: {response.get_data()[:200]!r}")


def test_the_fuzz_covers_every_route(app):
    served = {(method, rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint != "static" and not rule.endpoint.startswith(("api-docs.", "web."))
              for method in rule.methods - {"HEAD", "OPTIONS"}}

    assert served == set(ROUTES)


@pytest.mark.parametrize("method, rule", ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_junk_never_makes_a_5xx(http, targets, method, rule):
    failures: list[str] = []
    path = fill(rule, targets)
    for user in USERS:
        for junk_path in junk_paths(rule, targets):
            check(http.call(method, junk_path, user), f"{user} {method} {junk_path[:80]}", failures)
        for query in JUNK_QUERIES if method == "GET" or rule in QUERY_POSTS else ():
            check(http.call(method, f"{path}?{query}", user), f"{user} {method} {path}?{query[:40]}", failures)
        if method in ("POST", "DELETE"):
            for body in JUNK_BODIES:
                for content_type in DEPLOY_CONTENT_TYPES if rule in QUERY_POSTS else CONTENT_TYPES:
                    kwargs = {} if body is None else {"data": body}
                    if content_type is not None:
                        kwargs["content_type"] = content_type
                    request = f"{user} {method} {path} {content_type} {(body or b'')[:60]!r}"
                    check(http.call(method, path, user, **kwargs), request, failures)

    assert failures == []
