"""Fixtures for the path tests of the shipped processes (bpmn/)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.processes.harness import ProcessRun, enrol


@pytest.fixture
def people(people: Any, client: Any) -> Any:
    """The shared test users plus a second release manager: the requester of a release may not authorize its
    deployment (separation of duties), so another manager does."""
    enrol(client, people, "release-manager-2", "manager:release")
    return people


@pytest.fixture
def start(client: Any, people: Any, shipped: Any) -> Callable[..., ProcessRun]:
    """Deploy the shipped processes; then ``start("normal_change", as_=..., data=...)`` gives a ProcessRun."""

    def start_run(process: str, *, as_: str, data: Mapping[str, Any]) -> ProcessRun:
        return ProcessRun(client, people, process, as_=as_, data=data)

    return start_run

