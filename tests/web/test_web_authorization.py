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


def a_notice(http: Any, clock: Any) -> dict[str, Any]:
    return notifications.a_notice(http, clock, http.client.application.extensions["changeflow"].engine)


def a_webhook(http: Any, clock: Any) -> dict[str, Any]:
    return notifications.a_webhook(http, clock, http.client.application.extensions["changeflow"].engine)


def a_dead_letter(http: Any, clock: Any) -> dict[str, Any]:
    return notifications.a_dead_letter(http, clock, http.client.application.extensions["changeflow"].engine)


def change_form(http: Any, clock: Any) -> dict[str, Any]:
    data = change_request(clock)
    return {name: value[:16] if name.startswith("planned_") else value for name, value in data.items()}


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
