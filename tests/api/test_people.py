"""The caller, users, API tokens, roles and role assignments over HTTP."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from tests.api.support import assert_problem, change_request, iso, rows

# HTTP behaviour that does not depend on the SQL dialect: one backend is enough (tests/engine and
# tests/roles cover the SQL on both).
pytestmark = pytest.mark.sqlite_only

ME = {
    "admin": [{"role": "admin", "practice": "*"}],
    "nobody": [],
    "change-manager": [{"role": "manager", "practice": "change"}],
    "release-owner": [{"role": "owner", "practice": "release"}],
}


@pytest.mark.parametrize("user", sorted(ME))
def test_me_is_the_caller_with_their_roles(http, user):
    response = http.get("/api/me", user)

    assert response.status_code == 200
    assert response.get_json() == {"username": user, "display_name": None, "is_admin": user == "admin",
                                   "roles": ME[user]}


# -- users ----------------------------------------------------------------------------------------------


def test_an_admin_lists_users_with_their_roles_page_by_page(http):
    first = http.get("/api/users?per_page=3", "admin")
    last = http.get("/api/users?per_page=4&page=3", "admin")

    assert first.status_code == 200
    assert [user["username"] for user in first.get_json()] == ["admin", "change-manager", "change-owner"]
    assert first.get_json()[1]["roles"] == [{"role": "manager", "practice": "change"}]
    assert json.loads(first.headers["X-Pagination"])["total"] == 9
    assert [user["username"] for user in last.get_json()] == ["release-practitioner"]


def test_an_admin_creates_a_user(app, http, clock):
    response = http.post("/api/users", "admin", {"username": "alice", "display_name": "Alice Liddell",
                                                 "email": "alice@example.com"})

    assert response.status_code == 201
    assert response.get_json() == {"username": "alice", "display_name": "Alice Liddell", "email": "alice@example.com",
                                   "is_active": True, "created_at": clock.now().isoformat(), "roles": []}
    [row] = [row for row in rows(app, "app_user")["app_user"] if row["username"] == "alice"]
    assert (row["display_name"], row["email"], row["is_active"]) == ("Alice Liddell", "alice@example.com", True)
    assert http.get("/api/users/alice", "admin").get_json()["username"] == "alice"


@pytest.mark.parametrize("body, status, field", [
    ({"username": "change-manager"}, 409, "username"),
    ({"username": "Alice Smith"}, 422, "username"),
    ({"username": ""}, 422, "username"),
    ({"username": "a" * 101}, 422, "username"),
    ({}, 422, "username"),
    ({"username": "bob", "email": "not-an-email"}, 422, "email"),
    ({"username": "bob", "email": "b" * 320 + "@example.com"}, 422, "email"),
    ({"username": "bob", "display_name": "d" * 201}, 422, "display_name"),
    ({"username": "bob", "is_admin": True}, 422, "is_admin"),
])
def test_a_user_that_cannot_be_created_changes_nothing(app, http, body, status, field):
    before = rows(app, "app_user", "role_assignment", "api_token")

    response = http.post("/api/users", "admin", body)

    assert field in assert_problem(response, status)["errors"]
    assert rows(app, "app_user", "role_assignment", "api_token") == before


def test_a_user_may_read_themselves_but_only_an_admin_reads_others(http):
    assert http.get("/api/users/change-manager", "change-manager").get_json()["username"] == "change-manager"
    assert_problem(http.get("/api/users/change-owner", "change-manager"), 403, "forbidden",
                   detail="Only an admin may read another user's account")
    assert http.get("/api/users/change-owner", "admin").status_code == 200
    assert_problem(http.get("/api/users/ghost", "admin"), 404, "not-found")


# -- tokens ---------------------------------------------------------------------------------------------


def everything_stored(app):
    """Every value in every table, as text (to look for secrets that must not be there)."""
    return " ".join(str(value) for table in rows(app, *(
        "app_user", "api_token", "role_assignment", "event", "process_instance")).values()
        for row in table for value in row.values())


def test_a_token_is_shown_once_and_only_its_sha256_is_stored(app, http):
    response = http.post("/api/users/nobody/tokens", "admin", {})

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "token", "expires_at"} and body["expires_at"] is None
    token = body["token"]
    assert token.startswith("cf_") and len(token) >= 40
    [row] = [row for row in rows(app, "api_token")["api_token"] if row["id"] == body["id"]]
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in everything_stored(app)
    assert token[3:] not in everything_stored(app)
    me = http.get("/api/me", None, headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["username"] == "nobody"
    assert token not in json.dumps(http.get("/api/users/nobody", "admin").get_json())


def test_tokens_are_random(http):
    tokens = {http.post("/api/users/nobody/tokens", "admin", {}).get_json()["token"] for _ in range(5)}

    assert len(tokens) == 5


def test_a_revoked_token_is_401_at_once(app, http, clock):
    issued = http.post("/api/users/nobody/tokens", "admin").get_json()
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert http.get("/api/me", None, headers=headers).status_code == 200

    revoked = http.delete(f"/api/tokens/{issued['id']}", "admin")

    assert revoked.status_code == 204 and revoked.get_data() == b""
    [row] = [row for row in rows(app, "api_token")["api_token"] if row["id"] == issued["id"]]
    assert row["revoked_at"] == clock.now()
    refused = http.get("/api/me", None, headers=headers)
    assert_problem(refused, 401, "unauthenticated", detail="revoked")
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert http.delete(f"/api/tokens/{issued['id']}", "admin").status_code == 204  # revoking twice changes nothing


def test_a_token_may_expire(http, clock):
    expires = clock.now() + timedelta(hours=1)
    issued = http.post("/api/users/nobody/tokens", "admin", {"expires_at": iso(expires)}).get_json()
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert issued["expires_at"] == expires.isoformat()
    assert http.get("/api/me", None, headers=headers).status_code == 200

    clock.advance(timedelta(hours=1))

    refused = http.get("/api/me", None, headers=headers)
    assert_problem(refused, 401, "unauthenticated", detail="expired")
    assert "WWW-Authenticate" in refused.headers


@pytest.mark.parametrize("expires_at", ["2020-01-01T00:00:00Z", "2030-01-01T00:00:00", "tomorrow",
                                        "9999-12-31T23:59:59-01:00"])
def test_a_token_cannot_expire_in_the_past_without_a_zone_or_out_of_range(app, http, expires_at):
    before = rows(app, "api_token")

    response = http.post("/api/users/nobody/tokens", "admin", {"expires_at": expires_at})

    assert set(assert_problem(response, 422, "validation-failed")["errors"]) == {"expires_at"}
    assert rows(app, "api_token") == before


def test_tokens_of_an_unknown_user_or_token_are_404(http):
    assert_problem(http.post("/api/users/ghost/tokens", "admin", {}), 404, "not-found")
    assert_problem(http.delete("/api/tokens/9999", "admin"), 404, "not-found")


@pytest.mark.parametrize("user", ["change-owner", "change-manager", "nobody"])
def test_only_an_admin_issues_and_revokes_tokens(app, http, user):
    before = rows(app, "api_token")

    assert_problem(http.post("/api/users/nobody/tokens", user, {}), 403, "forbidden")
    assert_problem(http.delete("/api/tokens/1", user), 403, "forbidden")
    assert rows(app, "api_token") == before


# -- roles and role assignments -------------------------------------------------------------------------


def test_the_roles(http):
    response = http.get("/api/roles", "nobody")

    assert response.status_code == 200
    roles = {role["name"]: role["per_practice"] for role in response.get_json()}
    assert roles == {"owner": True, "manager": True, "practitioner": True, "admin": False, "cab": True}
    assert all(role["description"] for role in response.get_json())


def test_anyone_signed_in_reads_who_holds_which_role(http):
    everyone = http.get("/api/role-assignments", "nobody").get_json()
    managers = http.get("/api/role-assignments?role=manager", "nobody").get_json()
    release = http.get("/api/role-assignments?practice=release", "nobody").get_json()
    mine = http.get("/api/role-assignments?user=change-practitioner-2", "nobody").get_json()

    assert len(everyone) == 8
    assert {(a["user"], a["practice"]) for a in managers} == {("change-manager", "change"),
                                                              ("release-manager", "release")}
    assert {a["user"] for a in release} == {"release-owner", "release-manager", "release-practitioner"}
    assert [(a["user"], a["role"], a["practice"], a["granted_by"]) for a in mine] == [
        ("change-practitioner-2", "practitioner", "change", "test")]


def test_role_assignments_are_paginated(http):
    page = http.get("/api/role-assignments?per_page=3&page=3", "nobody")

    assert [(a["user"], a["role"]) for a in page.get_json()] == [("release-owner", "owner"),
                                                                  ("release-practitioner", "practitioner")]
    assert json.loads(page.headers["X-Pagination"]) == {
        "total": 8, "total_pages": 3, "first_page": 1, "last_page": 3, "page": 3, "previous_page": 2}


def test_a_granted_role_takes_effect_at_once_and_a_revoked_one_too(app, http, clock, shipped):
    body = {"process": "normal_change", "data": change_request(clock)}
    assert_problem(http.post("/api/instances", "release-practitioner", body), 403)

    granted = http.post("/api/role-assignments", "admin",
                        {"user": "release-practitioner", "role": "practitioner", "practice": "change"})

    assert granted.status_code == 201
    assignment = granted.get_json()
    assert {key: assignment[key] for key in ("user", "role", "practice", "granted_by")} == {
        "user": "release-practitioner", "role": "practitioner", "practice": "change", "granted_by": "admin"}
    assert http.post("/api/instances", "release-practitioner", body).status_code == 201

    revoked = http.delete(f"/api/role-assignments/{assignment['id']}", "admin")

    assert revoked.status_code == 204
    assert_problem(http.post("/api/instances", "release-practitioner", body), 403)
    assert assignment["id"] not in [row["id"] for row in rows(app, "role_assignment")["role_assignment"]]


def test_a_role_for_every_practice(http, shipped, clock):
    http.post("/api/role-assignments", "admin", {"user": "nobody", "role": "practitioner", "practice": "*"})

    response = http.post("/api/instances", "nobody", {"process": "normal_change", "data": change_request(clock)})

    assert response.status_code == 201


def test_admin_is_a_global_role_granted_without_a_practice_or_for_every_practice(app, http):
    before = rows(app, "role_assignment")
    refused = http.post("/api/role-assignments", "admin", {"user": "nobody", "role": "admin", "practice": "change"})

    # The same rule as the CLI's: an admin grant for one practice is refused, never silently widened.
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {"practice": ["admin is a global role; its practice is '*'."]}
    assert rows(app, "role_assignment") == before
    response = http.post("/api/role-assignments", "admin", {"user": "nobody", "role": "admin"})
    assert response.status_code == 201 and response.get_json()["practice"] == "*"
    assert http.get("/api/me", "nobody").get_json()["is_admin"] is True


def test_granting_a_held_role_changes_nothing(app, http):
    body = {"user": "change-manager", "role": "manager", "practice": "change"}
    before = rows(app, "role_assignment")

    response = http.post("/api/role-assignments", "admin", body)

    assert response.status_code == 201 and response.get_json()["granted_by"] == "test"
    assert rows(app, "role_assignment") == before


@pytest.mark.parametrize("body, status, field", [
    ({"user": "nobody", "role": "board", "practice": "change"}, 422, "role"),
    ({"user": "nobody", "role": "manager", "practice": "Change Management"}, 422, "practice"),
    ({"user": "nobody", "role": "manager", "practice": "p" * 51}, 422, "practice"),
    ({"user": "nobody", "practice": "change"}, 422, "role"),
    ({"user": "nobody", "role": "manager", "practice": "change", "until": "2030"}, 422, "until"),
    ({"user": "ghost", "role": "manager", "practice": "change"}, 404, None),
])
def test_a_role_that_cannot_be_granted_changes_nothing(app, http, body, status, field):
    before = rows(app, "role_assignment")

    problem = assert_problem(http.post("/api/role-assignments", "admin", body), status)

    if field is not None:
        assert field in problem["errors"]
    assert rows(app, "role_assignment") == before


@pytest.mark.parametrize("user", ["change-owner", "release-manager", "nobody"])
def test_only_an_admin_grants_and_revokes_roles(app, http, user):
    before = rows(app, "role_assignment")

    assert_problem(http.post("/api/role-assignments", user, {"user": user, "role": "owner", "practice": "*"}),
                   403, "forbidden", detail="Only an admin")
    assert_problem(http.delete("/api/role-assignments/1", user), 403, "forbidden")
    assert rows(app, "role_assignment") == before


def test_revoking_an_unknown_assignment_is_404(http):
    assert_problem(http.delete("/api/role-assignments/9999", "admin"), 404, "not-found")


# -- losing a role (issue 9, finding 17) --------------------------------------------------------------------


def _assignment_id(http, user: str, role: str, practice: str) -> int:
    held = http.get(f"/api/role-assignments?user={user}", "admin").get_json()
    [assignment] = [a for a in held if (a["role"], a["practice"]) == (role, practice)]
    return assignment["id"]


def test_losing_a_role_releases_the_tasks_held_in_it(app, http, clock, shipped):
    started = http.start_change(clock)
    task = started["tasks"][0]
    assert task["role"] == "manager"
    assert http.post(f"/api/tasks/{task['id']}/claim", "change-manager").status_code == 200
    http.post("/api/role-assignments", "admin", {"user": "change-practitioner-2", "role": "manager",
                                                 "practice": "change"})

    revoked = http.delete(f"/api/role-assignments/{_assignment_id(http, 'change-manager', 'manager', 'change')}",
                          "admin")

    assert revoked.status_code == 204
    released = http.get(f"/api/tasks/{task['id']}", "change-practitioner-2").get_json()
    assert released["assignee"] is None
    assert http.post(f"/api/tasks/{task['id']}/claim", "change-practitioner-2").status_code == 200
    [event] = [e for e in rows(app, "event")["event"] if e["type"] == "unclaimed"]
    assert (event["actor"], event["task_id"], event["data"]["previous"]) == ("admin", task["id"], "change-manager")
    assert "no longer holds the role manager of change" in event["data"]["reason"]


def test_losing_one_role_keeps_the_tasks_another_grant_still_allows(app, http, clock, shipped):
    http.post("/api/role-assignments", "admin", {"user": "change-manager", "role": "manager", "practice": "*"})
    started = http.start_change(clock)
    task = started["tasks"][0]
    http.post(f"/api/tasks/{task['id']}/claim", "change-manager")
    before = rows(app)

    http.delete(f"/api/role-assignments/{_assignment_id(http, 'change-manager', 'manager', 'change')}", "admin")

    assert http.get(f"/api/tasks/{task['id']}", "change-manager").get_json()["assignee"] == "change-manager"
    after = rows(app)
    assert after["event"] == before["event"] and after["human_task"] == before["human_task"]
