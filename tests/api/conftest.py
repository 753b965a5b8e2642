"""Fixtures for the HTTP tests (on top of tests/conftest.py's app, client, people, shipped and clock)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.support import Http


@pytest.fixture
def http(client: Any, people: Any) -> Http:
    return Http(client, people)


@pytest.fixture
def deploy(http: Http) -> Callable[..., dict[str, Any]]:
    """Deploy a test diagram over HTTP as the change owner; returns the deploy answer."""

    def run(key: str, bpmn: str, *, practice: str = "change", user: str = "change-owner") -> dict[str, Any]:
        response = http.post(f"/api/process-models/{key}/versions", user, {"bpmn": bpmn, "practice": practice})
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    return run
