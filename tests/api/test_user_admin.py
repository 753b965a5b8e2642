"""Admins list a user's tokens and disable or enable users; a disabled user's tokens stop at once."""

from __future__ import annotations

from tests.api.support import assert_problem, rows


def test_an_admin_lists_a_users_tokens_without_the_tokens(http, clock):
    issued = http.post("/api/users/nobody/tokens", "admin", {}).get_json()
    assert http.delete(f"/api/tokens/{issued['id']}", "admin").status_code == 204

    response = http.get("/api/users/nobody/tokens", "admin")

    assert response.status_code == 200
    tokens = response.get_json()
    assert [t["id"] for t in tokens] == sorted(t["id"] for t in tokens) and len(tokens) == 2
    assert all("token" not in t for t in tokens)
    assert [t["active"] for t in tokens] == [True, False]
    assert tokens[1]["revoked_at"] is not None


def test_disabling_a_user_refuses_their_token_at_once_and_enabling_restores_it(http):
    assert http.get("/api/me", "change-practitioner").status_code == 200

    disabled = http.post("/api/users/change-practitioner/disable", "admin")

    assert disabled.status_code == 200 and disabled.get_json()["is_active"] is False
    assert_problem(http.get("/api/me", "change-practitioner"), 401, "unauthenticated", detail="deactivated")
    enabled = http.post("/api/users/change-practitioner/enable", "admin")
    assert enabled.get_json()["is_active"] is True
    assert http.get("/api/me", "change-practitioner").status_code == 200


def test_an_admin_cannot_disable_themselves(http, app):
    before = rows(app, "app_user")

    assert_problem(http.post("/api/users/admin/disable", "admin"), 409)
    assert rows(app, "app_user") == before


def test_disabling_an_unknown_user_is_a_404(http):
    assert_problem(http.post("/api/users/ghost/disable", "admin"), 404)
    assert_problem(http.get("/api/users/ghost/tokens", "admin"), 404)
