"""Sign-in, session cookies, CSRF, throttling, sign-out, disabled users and changing one's own password."""

from __future__ import annotations

import pytest

from roles import accounts
from tests.api.support import assert_problem, rows
from tests.web.conftest import PASSWORD, WebClient

pytestmark = pytest.mark.usefixtures("shipped")


def session_user(client: WebClient) -> str | None:
    with client.client.session_transaction() as session:
        return session.get("user")


def test_a_page_sends_an_anonymous_visitor_to_sign_in_and_back(app, passwords):
    client = WebClient(app)

    page = client.get("/find?status=running")

    assert page.status == 302 and page.location == "/sign-in?next=/find?status%3Drunning"
    signed = client.post("/sign-in", {"username": "change-manager", "password": PASSWORD,
                                      "next": "/find?status=running"})
    assert signed.status == 302 and signed.location == "/find?status=running"
    assert client.get("/find?status=running").status == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", ""])
def test_after_sign_in_only_a_local_path_is_followed(app, passwords, target):
    page = WebClient(app).post("/sign-in", {"username": "admin", "password": PASSWORD, "next": target})

    assert page.status == 302 and page.location == "/"


def test_the_session_cookie_is_httponly_and_samesite_lax_and_secure_over_https(app, passwords):
    plain = WebClient(app).sign_in("admin").response.headers["Set-Cookie"]

    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    client = WebClient(app)
    client.client.get("/sign-in", base_url="https://localhost")
    response = client.client.post("/sign-in", base_url="https://localhost",
                                  data={"username": "admin", "password": PASSWORD, "csrf_token": client.csrf()})
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_on_the_page_and_signs_nobody_in(app, passwords):
    client = WebClient(app)

    page = client.sign_in("change-manager", "not the password")

    assert page.status == 401
    assert "The username or password is wrong." in page.text
    assert 'value="change-manager"' in page.text  # the username is kept
    assert session_user(client) is None
    assert client.get("/").status == 302


def test_repeated_failures_are_throttled_with_retry_after(app, passwords):
    client = WebClient(app)
    statuses = [client.sign_in("change-manager", "wrong wrong").status for _ in range(accounts.FREE_FAILURES + 2)]

    assert statuses == [401] * (accounts.FREE_FAILURES + 1) + [429]
    throttled = client.sign_in("change-manager")  # the right password must wait too
    assert throttled.status == 429 and throttled.response.headers["Retry-After"] == "30"
    assert "Try again in 30 seconds" in throttled.text


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(app, browser, http, clock):
    task = http.start_change(clock)["tasks"][0]
    manager = browser("change-manager")
    before = rows(app)

    missing = manager.post(f"/tasks/{task['id']}/claim", csrf=False)
    wrong = manager.post(f"/tasks/{task['id']}/claim", {"csrf_token": "forged"})

    assert missing.status == wrong.status == 400
    assert "The form has expired" in missing.text
    assert rows(app) == before


def test_a_sign_in_post_without_csrf_is_refused_too(app, passwords):
    page = WebClient(app).post("/sign-in", {"username": "admin", "password": PASSWORD}, csrf=False)

    assert page.status == 400


def test_signing_out_ends_the_session_even_for_a_copied_cookie(app, browser):
    client = browser("change-manager")
    with client.client.session_transaction() as session:
        stolen = dict(session)

    out = client.post("/sign-out")

    assert out.status == 302 and out.location == "/sign-in"
    assert client.get("/").status == 302
    replay = WebClient(app)
    with replay.client.session_transaction() as session:
        session.update(stolen)
    assert replay.get("/").status == 302


def test_a_disabled_users_session_and_token_are_refused_at_once(app, browser, http):
    manager = browser("change-manager")
    assert manager.get("/").status == 200

    admin = browser("admin")
    assert admin.post("/admin/users/change-manager/disable").status == 302

    refused = manager.get("/")
    assert refused.status == 302 and refused.location.startswith("/sign-in")
    assert "This account is disabled" in manager.get(refused.location).text
    assert_problem(http.get("/api/me", "change-manager"), 401, detail="deactivated")
    assert WebClient(app).sign_in("change-manager").status == 401


def test_changing_ones_password_keeps_this_session_and_ends_the_others(app, browser):
    here, elsewhere = browser("change-owner"), browser("change-owner")

    wrong = here.post("/account", {"current_password": "nope nope", "new_password": "a brand new one",
                                   "repeat_password": "a brand new one"})
    mismatch = here.post("/account", {"current_password": PASSWORD, "new_password": "a brand new one",
                                      "repeat_password": "another one!"})
    weak = here.post("/account", {"current_password": PASSWORD, "new_password": "short",
                                  "repeat_password": "short"})
    done = here.post("/account", {"current_password": PASSWORD, "new_password": "a brand new one",
                                  "repeat_password": "a brand new one"})

    assert (wrong.status, mismatch.status, weak.status) == (422, 422, 422)
    assert wrong.errors() == ["The username or password is wrong."]
    assert mismatch.errors() == ["The two new passwords differ."]
    assert weak.errors() == ["Use at least 10 characters."]
    assert done.status == 302
    assert here.get("/").status == 200
    assert elsewhere.get("/").status == 302
    assert WebClient(app).sign_in("change-owner").status == 401
    assert WebClient(app).sign_in("change-owner", "a brand new one").status == 302


def test_the_embedded_server_prints_demo_passwords_that_sign_in(database_url, capsys):
    import re

    from app import create_app

    application = create_app({"CHANGEFLOW_DATABASE_URL": database_url, "CHANGEFLOW_MIGRATE": False,
                              "CHANGEFLOW_DEPLOY_BPMN": False, "CHANGEFLOW_DEMO_USERS": True,
                              "CHANGEFLOW_TIMER_THREAD": False, "CHANGEFLOW_LOG_LEVEL": "WARNING"})
    try:
        printed = capsys.readouterr().out
        lines = dict(re.findall(r"^\s+(change-manager|admin)\s+\S+\s+(\S+)\s+cf_\S+$", printed, re.M))
        assert set(lines) == {"change-manager", "admin"}
        client = WebClient(application)
        assert client.sign_in("change-manager", lines["change-manager"]).status == 302
        assert client.get("/").status == 200
    finally:
        application.extensions["changeflow"].database.dispose()


def test_the_cli_gives_a_user_a_password_that_signs_in(app, passwords):
    runner = app.test_cli_runner()

    result = runner.invoke(args=["users", "password", "change-owner"])
    missing = runner.invoke(args=["users", "password", "ghost"])

    assert result.exit_code == 0, result.output
    password = result.stdout.strip()
    assert " " not in password and len(password) >= 10
    assert WebClient(app).sign_in("change-owner", PASSWORD).status == 401
    assert WebClient(app).sign_in("change-owner", password).status == 302
    assert missing.exit_code == 1 and "There is no user 'ghost'." in missing.output

