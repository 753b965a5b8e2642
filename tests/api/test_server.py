"""The real server (``python app.py``) as a separate process on a free port, driving a whole change over HTTP.

It migrates a brand-new database, deploys the shipped diagrams, prints the demo users' tokens, and fires
timers in its embedded thread. The change's planned start is a few seconds ahead, so the wait for it ends
in that thread, not inline, and the audit trail shows the system firing it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.api.support import change_request, iso
from tests.live_server import Server

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ENV = "CHANGEFLOW_TEST_POSTGRES_URL"
TIMER_DEADLINE = 60.0

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that does not exist yet (SQLite) or is brand new and empty (PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/server/changeflow.db"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests skipped: set {POSTGRES_ENV}.")
    admin_url = make_url(base)
    name = f"changeflow_server_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server means "skip"
        admin.dispose()
        pytest.skip(f"PostgreSQL tests skipped: {error}")
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Client:
    """``requests`` against the server as one of the demo users."""

    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.base = base
        self.tokens = tokens

    def call(self, method: str, path: str, user: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)

    def ok(self, method: str, path: str, user: str, status: int = 200, **kwargs) -> dict:
        response = self.call(method, path, user, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json()

    def open_task(self, instance_id: int, element_id: str) -> dict:
        tasks = self.ok("GET", f"/api/tasks?scope=all&instance={instance_id}", "admin")
        [task] = [task for task in tasks if task["element_id"] == element_id]
        return task

    def work(self, task: dict, user: str, data: dict) -> dict:
        """Find the task on the user's own list, claim it, read its form, complete it."""
        mine = self.ok("GET", "/api/tasks", user)
        assert task["id"] in [t["id"] for t in mine], f"{task['element_id']} is not on {user}'s list"
        assert self.ok("POST", f"/api/tasks/{task['id']}/claim", user)["assignee"] == user
        form = self.ok("GET", f"/api/tasks/{task['id']}", user)["form"]
        assert set(data) <= set(form["schema"]["properties"]), (data, form)
        return self.ok("POST", f"/api/tasks/{task['id']}/complete", user, json={"data": data})


def test_the_real_server_drives_a_normal_change_from_request_to_closure(fresh_database_url):
    server = Server(fresh_database_url)
    try:
        api = Client(server.base, server.wait_until_healthy())
        planned_start = datetime.now(UTC) + timedelta(seconds=8)

        # The practitioner requests the change (its planned start a few seconds ahead).
        instance = api.ok("POST", "/api/instances", "change-practitioner", 201, json={
            "process": "normal_change",
            "data": change_request(None, start_in=timedelta(0), planned_start=iso(planned_start),
                                   planned_end=iso(planned_start + timedelta(hours=1)))})
        assert instance["status"] == "running" and instance["data"]["risk"] == "low"
        instance_id = instance["id"]

        # The manager assesses it and, not being the requester, authorizes it.
        assessed = api.work(api.open_task(instance_id, "assess_change"), "change-manager",
                            {"assessment_decision": "accept"})
        assert [task["element_id"] for task in assessed["next_tasks"]] == ["authorize_change"]
        authorized = api.work(api.open_task(instance_id, "authorize_change"), "change-manager",
                              {"authorization_decision": "authorize"})
        assert authorized["next_tasks"] == []

        # The embedded timer thread fires the wait for the planned start.
        implement = poll_for_task(api, instance_id, "implement_change")
        assert datetime.now(UTC) >= planned_start.replace(microsecond=0)

        # The implementation is backed out, so the change is reviewed before it is closed.
        implemented = api.work(implement, "change-practitioner",
                               {"implementation_outcome": "backed_out", "implementation_notes": "Replication lag."})
        assert [task["element_id"] for task in implemented["next_tasks"]] == ["post_implementation_review"]
        reviewed = api.work(implemented["next_tasks"][0], "change-manager",
                            {"review_findings": "Replication could not keep up.", "lessons_learned": "Test at load."})
        assert [task["element_id"] for task in reviewed["next_tasks"]] == ["close_change"]
        closed = api.work(reviewed["next_tasks"][0], "change-manager", {"closure_code": "backed_out"})

        assert closed["instance"] == {"id": instance_id, "business_key": instance["business_key"],
                                      "status": "completed"}
        final = api.ok("GET", f"/api/instances/{instance_id}", "change-owner")
        assert final["status"] == "completed" and final["ended_at"] is not None and final["tasks"] == []
        assert final["data"]["closure_code"] == "backed_out"
        trail = api.ok("GET", f"/api/instances/{instance_id}/events?per_page=200", "change-owner")
        completions = [(event["actor"], event["data"]["element_id"]) for event in trail
                       if event["type"] == "completed"]
        assert completions == [
            ("change-manager", "assess_change"), ("change-manager", "authorize_change"),
            ("change-practitioner", "implement_change"), ("change-manager", "post_implementation_review"),
            ("change-manager", "close_change")]
        assert [(event["actor"], event["data"]["element_id"]) for event in trail
                if event["type"] == "timer_fired"] == [("system", "wait_for_planned_start")]
        assert trail[-1]["type"] == "instance_completed"
    finally:
        code = server.stop()
    assert "Traceback" not in server.output(), server.output()
    assert code in (0, -15), server.output()  # terminated by SIGTERM


def poll_for_task(api: Client, instance_id: int, element_id: str) -> dict:
    give_up = time.monotonic() + TIMER_DEADLINE
    while time.monotonic() < give_up:
        instance = api.ok("GET", f"/api/instances/{instance_id}", "change-practitioner")
        found = [task for task in instance["tasks"] if task["element_id"] == element_id]
        if found:
            return found[0]
        assert instance["status"] == "waiting", instance
        time.sleep(0.2)
    raise AssertionError(f"{element_id} did not appear within {TIMER_DEADLINE} s")
