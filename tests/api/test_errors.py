"""Every error is an RFC 7807 problem: 400 malformed, 401 unauthenticated, 403, 404, 405, 409, 413, 422."""

from __future__ import annotations

from datetime import timedelta

import pytest

from roles import accounts
from roles.models import User
from tests.api.support import assert_problem, change_request, rows

# HTTP behaviour that does not depend on the SQL dialect: one backend is enough (tests/engine and
# tests/roles cover the SQL on both).
pytestmark = [pytest.mark.usefixtures("shipped"), pytest.mark.sqlite_only]


# -- 400: malformed requests ----------------------------------------------------------------------------

MALFORMED_BODIES = {
    "truncated": b'{"process": "normal_change"',
    "not utf-8": b'{"process": "\xff\xfe"}',
    "nested too deeply": b"[" * 100_000 + b"]" * 100_000,
    "NaN": b'{"process": "normal_change", "data": {"x": NaN}}',
    "Infinity": b'{"process": "normal_change", "data": {"x": -Infinity}}',
    "a number too large for a float": b'{"process": "normal_change", "data": {"x": 1e999}}',
    "a NUL character": b'{"process": "normal_change", "data": {"title": "a\\u0000b"}}',
    "a NUL character in a key": b'{"process": "normal_change", "data": {"a\\u0000b": 1}}',
    "a lone surrogate": b'{"process": "normal_change", "data": {"title": "a\\ud800b"}}',
    "a lone low surrogate in a key": b'{"process": "normal_change", "data": {"\\udc00": 1}}',
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
@pytest.mark.parametrize("path", ["/api/instances", "/api/process-models/x/versions", "/api/messages"])
def test_a_body_that_is_not_storable_json_is_400_and_changes_nothing(app, http, path, body):
    before = rows(app)

    response = http.post(path, "admin", data=body, content_type="application/json")

    assert_problem(response, 400, detail="The body is not valid JSON")
    assert rows(app) == before


def test_a_lone_surrogate_is_400_wherever_text_is_stored(app, http, shipped):
    """Strict JSON parsers accept "\\ud800"; PostgreSQL refuses it, so every stored text was a way to a 500."""
    instance = http.post("/api/instances", "change-practitioner",
                         {"process": "normal_change", "data": change_request()}).get_json()
    task = instance["tasks"][0]["id"]
    before = rows(app)
    attempts = [
        (f"/api/tasks/{task}/complete", "change-manager", b'{"data": {"assessment_decision": "\\ud800"}}'),
        ("/api/messages", "change-manager", b'{"name": "approval", "correlation_keys": {"k": "\\ud800"}}'),
        ("/api/users", "admin", b'{"username": "eve", "display_name": "\\udfff"}'),
        ("/api/process-models/x/versions", "change-owner", b'{"practice": "change", "bpmn": "<a>\\ud800</a>"}'),
    ]
    for path, user, body in attempts:
        response = http.post(path, user, data=body, content_type="application/json")
        assert_problem(response, 400, detail="lone UTF-16 surrogate")
    assert rows(app) == before


@pytest.mark.parametrize("path", ["/api/tasks/a%00b", "/api/tasks?process=a%00b", "/api/users/%00",
                                  "/api/instances?started_by=%00", "/api/process-models/%00/versions"])
def test_a_nul_character_in_the_url_is_400(http, path):
    body = assert_problem(http.get(path, "admin"), 400, detail="NUL character")

    assert "\x00" not in body["instance"]


def test_malformed_json_comes_after_authentication(http):
    response = http.post("/api/instances", None, data=b"{", content_type="application/json")

    assert_problem(response, 401, "unauthenticated")


# -- 401: who are you? ----------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization, detail", [
    (None, "Send your API token"),
    ("", "Send your API token"),
    ("Bearer", "Send your API token"),
    ("Bearer    ", "Send your API token"),
    ("Basic YWRtaW46YWRtaW4=", "Send your API token"),
    ("Bearer cf_not-a-token", "The API token is not valid."),
    ("Bearer " + "x" * 10_000, "The API token is not valid."),
])
def test_no_token_or_a_bad_token_is_401_with_www_authenticate(http, authorization, detail):
    headers = {} if authorization is None else {"Authorization": authorization}

    response = http.get("/api/me", None, headers=headers)

    assert_problem(response, 401, "unauthenticated", detail=detail)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="changeflow"'


def test_the_scheme_is_case_insensitive(http, people):
    response = http.get("/api/me", None, headers={"Authorization": f"bearer {people.tokens['nobody']}"})

    assert response.status_code == 200


def test_a_deactivated_users_token_is_401(app, http):
    database = app.extensions["changeflow"].database
    with database.transaction() as session:
        session.query(User).filter_by(username="nobody").one().is_active = False

    assert_problem(http.get("/api/me", "nobody"), 401, "unauthenticated", detail="deactivated")


def test_a_refused_token_leaves_the_database_as_it_was(app, http, people, clock):
    before = rows(app, "api_token")
    clock.advance(timedelta(days=1))

    http.get("/api/me", None, headers={"Authorization": "Bearer wrong"})

    assert rows(app, "api_token") == before


def test_a_successful_call_records_the_tokens_use_and_a_failed_one_does_not(app, http, people, clock):
    cf = app.extensions["changeflow"]
    assert_problem(http.get("/api/users", "nobody"), 403)
    with cf.database.snapshot() as session:
        user = accounts.get_user(session, "nobody")
        assert [token.last_used_at for token in accounts.tokens_of(session, user)] == [None]

    assert http.get("/api/me", "nobody").status_code == 200

    with cf.database.snapshot() as session:
        user = accounts.get_user(session, "nobody")
        assert [token.last_used_at for token in accounts.tokens_of(session, user)] == [clock.now()]


def test_a_read_never_waits_for_a_writer_to_note_the_tokens_use(app, http, people, clock):
    """Noting a token's use took the write lock after every read: behind a long write, a GET waited 30 s
    and answered a 500 (issue 9, finding 11). Now the note is skipped when a lock stands in the way."""
    from sqlalchemy import create_engine, text

    cf = app.extensions["changeflow"]
    blocker = create_engine(cf.database.url, isolation_level="AUTOCOMMIT")
    with blocker.connect() as connection:
        if cf.database.is_sqlite:
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # a writer holds the whole database
        else:
            connection.exec_driver_sql("BEGIN")
            connection.execute(text("SELECT id FROM api_token FOR UPDATE"))  # and every token row
        try:
            response = http.get("/api/me", "nobody")
        finally:
            connection.exec_driver_sql("ROLLBACK")
    blocker.dispose()

    assert response.status_code == 200 and response.get_json()["username"] == "nobody"
    with cf.database.snapshot() as session:
        user = accounts.get_user(session, "nobody")
        assert [token.last_used_at for token in accounts.tokens_of(session, user)] == [None]  # noted later
    assert http.get("/api/me", "nobody").status_code == 200
    with cf.database.snapshot() as session:
        user = accounts.get_user(session, "nobody")
        assert [token.last_used_at for token in accounts.tokens_of(session, user)] == [clock.now()]


def test_a_500_outside_a_view_is_the_internal_error_problem(app, http, monkeypatch):
    from api import auth

    def broken(_token_id):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(auth.accounts, "record_token_use", lambda *args, **kwargs: broken(args[1]))
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production: Flask answers itself

    response = http.get("/api/me", "nobody")

    body = assert_problem(response, 500, "internal-error")
    assert "went away" not in response.get_data(as_text=True)
    assert body["detail"].startswith("An unexpected error occurred")


# -- 403, 404, 405, 409, 413, 422 -----------------------------------------------------------------------


def test_a_403_says_why(http):
    body = assert_problem(http.get("/api/users", "change-owner"), 403, "forbidden")

    assert body["detail"] == "Only an admin may manage users, tokens and role assignments."
    assert body["title"] == "Forbidden" and body["instance"] == "/api/users"


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/instances/0", "/api/instances/2147483648",
                                  "/api/instances/-1", "/api/instances/abc", "/api/instances/99999999999999999999"])
def test_unknown_resources_are_404_problems(http, path):
    assert_problem(http.get(path, "admin"), 404)


def test_an_unknown_method_is_a_405_problem_with_the_allowed_methods(http):
    response = http.call("PUT", "/api/instances", "admin", json={})

    assert_problem(response, 405)
    assert {"GET", "POST"} <= {method.strip() for method in response.headers["Allow"].split(",")}


def test_a_body_over_the_size_limit_is_a_413_problem(http):
    response = http.post("/api/instances", "change-practitioner", data=b"x" * (6 * 1024 * 1024),
                         content_type="application/json")

    assert_problem(response, 413)


def test_a_conflict_is_409_with_context(http, clock):
    task = http.start_change(clock)["tasks"][0]
    http.post(f"/api/tasks/{task['id']}/claim", "change-manager")
    http.post("/api/role-assignments", "admin", {"user": "change-owner", "role": "manager", "practice": "change"})

    body = assert_problem(http.post(f"/api/tasks/{task['id']}/claim", "change-owner"), 409, "conflict")

    assert body["context"] == {"task_id": task["id"], "assignee": "change-manager"}


def test_a_validation_error_is_422_with_messages_per_field(http):
    body = assert_problem(http.post("/api/instances", "change-practitioner", {"version": "one", "extra": 1}), 422,
                          "validation-failed")

    assert set(body["errors"]) == {"process", "version", "extra"}
    assert all(isinstance(messages, list) and all(isinstance(m, str) for m in messages)
               for messages in body["errors"].values())
    assert "process" in body["detail"] and "version" in body["detail"]
