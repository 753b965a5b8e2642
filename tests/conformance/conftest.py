"""Fixtures for the conformance diagrams: the HTTP helper of the API tests, on this folder's app."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.support import Http


@pytest.fixture
def http(client: Any, people: Any) -> Http:
    return Http(client, people)
