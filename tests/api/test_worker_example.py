"""The worker example in docs/examples drives the shipped release process's external "Build release" task."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.processes.samples import release_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "release_build_worker.py"


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("release_build_worker", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_worker_builds_a_release_and_reports_a_failed_build(http, shipped, clock):
    example = load_example()

    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:  # the worker's HTTP, through the test client
        response = http.post(path, "release-practitioner", body)
        return response.status_code, response.get_json()

    change = http.start_change(clock)  # the release carries an open change
    release = http.post("/api/instances", "release-manager",
                        {"process": "release", "data": release_plan(change["business_key"])})
    assert release.status_code == 201, release.get_json()
    release_id = release.get_json()["id"]
    worker = example.Worker(post, worker_id="ci-1")

    def broken(task: dict[str, Any]) -> dict[str, Any]:
        raise example.BuildFailed("compiler exited with 2")

    assert worker.run_once(broken) == 1
    failed = http.get(f"/api/instances/{release_id}/events", "release-manager").get_json()
    assert failed[-1]["type"] == "external_task_failed" and failed[-1]["data"]["retries"] == example.RETRIES - 1

    assert worker.run_once(lambda task: {"build_version": "4.2.0"}) == 0  # the retry timeout is not over
    clock.advance(timedelta(minutes=1))
    assert worker.run_once(lambda task: {"build_version": "4.2.0", "build_notes": "ok"}) == 1

    instance = http.get(f"/api/instances/{release_id}", "release-manager").get_json()
    assert instance["data"]["build_version"] == "4.2.0"
    assert [task["element_id"] for task in instance["tasks"]] == ["test_release"]
