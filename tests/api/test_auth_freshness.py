"""Revoking a token, disabling a user or taking a role away holds at once in every server process.

Authentication reads the token, its user and their roles on every request, with no cache (issue 16 made
that read cheap instead: one prepared statement on the driver's cursor). Two apps on one database stand
for two server processes: each has its own engine and connection pool, and one is warmed up with the very
token first, so that a cache, had anyone added one, would hold a stale answer there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_test_app


@pytest.fixture
def other_process(app: Any, database_url: str, clock: Any) -> Iterator[Any]:
    """A second app on the same database: another server process, as far as the database can tell."""
    second = make_test_app(database_url, clock)
    try:
        yield second.test_client()
    finally:
        second.extensions["changeflow"].database.dispose()


def _me(client: Any, token: str) -> Any:
    return client.get("/api/me", headers={"Authorization": f"Bearer {token}"})


def _warm(client: Any, token: str) -> None:
    for _ in range(3):
        assert _me(client, token).status_code == 200


def test_a_token_revoked_in_one_process_is_refused_by_the_next_request_in_another(client, other_process, people):
    issued = client.post("/api/users/nobody/tokens", headers=people.headers("admin"), json={}).get_json()
    _warm(other_process, issued["token"])

    assert client.delete(f"/api/tokens/{issued['id']}", headers=people.headers("admin")).status_code == 204

    refused = _me(other_process, issued["token"])
    assert refused.status_code == 401 and "revoked" in refused.get_json()["detail"]
    assert _me(client, issued["token"]).status_code == 401


def test_a_user_disabled_in_one_process_is_refused_by_the_next_request_in_another(client, other_process, people):
    token = people.tokens["change-practitioner"]
    _warm(other_process, token)

    disabled = client.post("/api/users/change-practitioner/disable", headers=people.headers("admin"))
    assert disabled.status_code == 200, disabled.get_json()

    refused = _me(other_process, token)
    assert refused.status_code == 401 and "deactivated" in refused.get_json()["detail"]
    enabled = client.post("/api/users/change-practitioner/enable", headers=people.headers("admin"))
    assert enabled.status_code == 200
    assert _me(other_process, token).status_code == 200  # and enabling again holds at once too


def test_a_role_taken_away_in_one_process_is_gone_from_the_next_request_in_another(client, other_process, people):
    token = people.tokens["change-manager"]
    _warm(other_process, token)
    assert {"role": "manager", "practice": "change"} in _roles(other_process, token)
    [assignment] = [row for row in client.get("/api/role-assignments?user=change-manager",
                                              headers=people.headers("admin")).get_json()]

    revoked = client.delete(f"/api/role-assignments/{assignment['id']}", headers=people.headers("admin"))
    assert revoked.status_code == 204

    assert _roles(other_process, token) == []


def _roles(client: Any, token: str) -> list[dict[str, str]]:
    answer = _me(client, token)
    assert answer.status_code == 200
    return [{"role": role["role"], "practice": role["practice"]} for role in answer.get_json()["roles"]]
