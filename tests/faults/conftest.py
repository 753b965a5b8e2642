"""Fixtures for the fault tier (tests/faults): real servers, real kills, generated requests."""

from __future__ import annotations

from tests.api.test_server import fresh_database_url  # noqa: F401 - a fresh database per backend, shared
