"""The admin pages: users, passwords, role grants and API tokens, and what a new user then sees."""

from __future__ import annotations

import re

import pytest

from roles import accounts
from tests.api.support import assert_problem
from tests.web.conftest import PASSWORD, WebClient

pytestmark = pytest.mark.usefixtures("shipped")


def secret(page) -> str:
    """The one-time secret (password or token) the admin page shows after a redirect."""
    [value] = re.findall(r"shown only now: (\S+)</p>", page.text)
    return value


def test_an_admin_creates_a_user_who_signs_in_and_sees_their_work(app, browser, http, clock):
    http.start_change(clock)
    admin = browser("admin")

    created = admin.post("/admin/users", {"username": "dana", "display_name": "Dana", "role": "manager",
                                          "practice": "change"})
    assert created.status == 302 and created.location == "/admin/users/dana"
    password = secret(admin.get(created.location))
    assert "dana" in admin.get("/admin/users").text
    assert "shown only now" not in admin.get("/admin/users/dana").text  # shown once

    dana = WebClient(app)
    assert dana.sign_in("dana", password).status == 302
    work = dana.get("/")
    assert "Assess change" in work.text and "Dana" in work.text


def test_creating_a_user_with_a_taken_or_bad_name_shows_the_error(browser):
    admin = browser("admin")

    taken = admin.post("/admin/users", {"username": "change-manager"})
    bad = admin.post("/admin/users", {"username": "Not Valid!"})
    bad_practice = admin.post("/admin/users", {"username": "erin", "role": "manager", "practice": "NOPE!"})

    assert taken.status == bad.status == bad_practice.status == 422
    assert taken.errors() == ["The user 'change-manager' already exists."]
    assert "lowercase letters" in bad.errors()[0]
    assert "is not a practice" in bad_practice.errors()[0]
    assert "erin" not in browser("admin").get("/admin/users").text  # nothing half-created


def test_roles_are_granted_and_revoked_per_practice(app, browser):
    admin = browser("admin")

    assert admin.post("/admin/users/nobody/roles", {"role": "owner", "practice": "release"}).status == 302
    page = admin.get("/admin/users/nobody")
    assert re.search(r"<td>owner</td><td>release</td>", page.text)
    [assignment] = re.findall(r"/admin/users/nobody/roles/(\d+)/revoke", page.text)
    assert admin.post(f"/admin/users/nobody/roles/{assignment}/revoke").status == 302
    assert "<td>owner</td>" not in admin.get("/admin/users/nobody").text
    assert admin.post("/admin/users/nobody/roles", {"role": "wizard", "practice": "change"}).status == 422
    with app.extensions["changeflow"].database.snapshot() as session:
        assert accounts.get_user(session, "nobody").assignments == []


def test_revoking_a_role_on_the_admin_page_gives_back_the_tasks_held_in_it(app, browser, http, clock):
    # The same command as DELETE /api/role-assignments/{id}: the revoke and the release are one transaction.
    task = http.start_change(clock)["tasks"][0]
    assert http.post(f"/api/tasks/{task['id']}/claim", "change-manager").status_code == 200
    admin = browser("admin")
    page = admin.get("/admin/users/change-manager")
    [assignment] = re.findall(r"/admin/users/change-manager/roles/(\d+)/revoke", page.text)

    assert admin.post(f"/admin/users/change-manager/roles/{assignment}/revoke").status == 302

    assert http.get(f"/api/tasks/{task['id']}", "admin").get_json()["assignee"] is None
    with app.extensions["changeflow"].database.snapshot() as session:
        assert accounts.get_user(session, "change-manager").assignments == []


def test_tokens_are_listed_issued_and_revoked(browser, http):
    admin = browser("admin")

    issued = admin.post("/admin/users/nobody/tokens")
    token = secret(admin.get(issued.location))
    assert token.startswith("cf_")
    assert http.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    page = admin.get("/admin/users/nobody")
    ids = re.findall(r"/admin/users/nobody/tokens/(\d+)/revoke", page.text)
    assert len(ids) == 2 and token not in page.text  # the people fixture's token and this one
    admin.post(f"/admin/users/nobody/tokens/{ids[-1]}/revoke")
    assert_problem(http.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert "revoked" in admin.get("/admin/users/nobody").text
    assert admin.post(f"/admin/users/change-manager/tokens/{ids[0]}/revoke").status == 422  # not theirs


def test_an_admin_resets_a_password_and_the_old_one_stops_working(app, browser):
    admin, manager = browser("admin"), browser("change-manager")

    generated = admin.post("/admin/users/change-manager/password", {"password": ""})
    new = secret(admin.get(generated.location))

    assert manager.get("/").status == 302  # the reset ended the user's sessions
    assert WebClient(app).sign_in("change-manager", PASSWORD).status == 401
    assert WebClient(app).sign_in("change-manager", new).status == 302
    typed = admin.post("/admin/users/change-manager/password", {"password": "chosen by the admin"})
    assert typed.status == 302
    assert WebClient(app).sign_in("change-manager", "chosen by the admin").status == 302
    assert admin.post("/admin/users/change-manager/password", {"password": "short"}).status == 422


def test_disable_and_enable_and_an_admin_cannot_disable_themselves(app, browser):
    admin = browser("admin")

    assert admin.post("/admin/users/admin/disable").status == 409
    assert admin.post("/admin/users/change-owner/disable").status == 302
    assert WebClient(app).sign_in("change-owner").status == 401
    assert admin.post("/admin/users/change-owner/enable").status == 302
    assert WebClient(app).sign_in("change-owner").status == 302
    assert admin.get("/admin/users/ghost").status == 404
