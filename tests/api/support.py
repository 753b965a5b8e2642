"""Helpers for the HTTP tests: calls as a named user, problem checks, the shipped normal change, row snapshots."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from cab.models import metadata as cab_metadata
from engine import Engine, FakeClock
from engine.models import metadata as engine_metadata
from roles.models import metadata as roles_metadata

PROBLEM_JSON = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail"}
ANONYMOUS = None
TABLES = {table.name: table for metadata in (engine_metadata, roles_metadata, cab_metadata)
          for table in metadata.sorted_tables}
# The tables a command writes: a failed request must leave every one of them as it was.
COMMAND_TABLES = ("process_model", "process_version", "process_instance", "human_task", "task_exclusion",
                  "event", "incident", "message_subscription", "business_key_sequence")


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as clients send it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The schedule weighs overlapping windows on a service (a conflict raises the risk and calls the CAB), so each
# request of a test gets the next free window unless it names one; ``separate_windows`` restarts the count.
_next_window = itertools.count()


def separate_windows() -> None:
    """Start counting windows again: the first request of each test gets the plain window."""
    global _next_window
    _next_window = itertools.count()


def change_request(clock: FakeClock | None = None, *, start_in: timedelta = timedelta(days=1),
                   **overrides: Any) -> dict[str, Any]:
    """Valid data for the shipped normal change's start form (change/request), low risk by default. Requests
    made in one test get windows that do not overlap (three hours apart)."""
    now = clock.now() if clock is not None else datetime.now(UTC)
    start_in += timedelta(hours=3 * next(_next_window))
    data = {
        "title": "Upgrade the payroll database",
        "description": "Move payroll from PostgreSQL 15 to 17.",
        "affected_service": "payroll",
        "category": "application",
        "impact": "low",
        "likelihood": "low",
        "planned_start": iso(now + start_in),
        "planned_end": iso(now + start_in + timedelta(hours=2)),
        "implementation_plan": "pg_upgrade with links",
        "backout_plan": "restore last night's snapshot",
        "test_plan": "run the payroll smoke tests",
    }
    data.update(overrides)
    return data


@dataclass
class Http:
    """The test client, calling as one of the ``people`` (or anonymously with ``user=None``)."""

    client: Any
    people: Any

    def headers(self, user: str | None) -> dict[str, str]:
        return {} if user is None else self.people.headers(user)

    def call(self, method: str, path: str, user: str | None, **kwargs: Any) -> Any:
        headers = {**self.headers(user), **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, user: str | None, **kwargs: Any) -> Any:
        return self.call("GET", path, user, **kwargs)

    def post(self, path: str, user: str | None, json: Any = None, **kwargs: Any) -> Any:
        if json is not None:
            kwargs["json"] = json
        return self.call("POST", path, user, **kwargs)

    def delete(self, path: str, user: str | None, **kwargs: Any) -> Any:
        return self.call("DELETE", path, user, **kwargs)

    # -- the shipped normal change -----------------------------------------------------------------

    def start_change(self, clock: FakeClock, user: str = "change-practitioner", **overrides: Any) -> dict[str, Any]:
        response = self.post("/api/instances", user, {"process": "normal_change",
                                                      "data": change_request(clock, **overrides)})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def open_task(self, instance_id: int, element_id: str) -> dict[str, Any]:
        """The open task at ``element_id`` of the instance (looked up as admin, who sees everything)."""
        response = self.get(f"/api/tasks?scope=all&instance={instance_id}&per_page=200", "admin")
        assert response.status_code == 200, response.get_json()
        found = [task for task in response.get_json() if task["element_id"] == element_id]
        assert len(found) == 1, f"no single open {element_id} in {response.get_json()}"
        return found[0]

    def complete(self, task_id: str, user: str, data: dict[str, Any]) -> dict[str, Any]:
        response = self.post(f"/api/tasks/{task_id}/complete", user, {"data": data})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def change_at(self, clock: FakeClock, engine: Engine, element_id: str, **overrides: Any) -> dict[str, Any]:
        """Start a normal change and move it on until ``element_id`` is open; return that task."""
        instance = self.start_change(clock, **overrides)
        path = ["assess_change", "authorize_change", "implement_change", "close_change"]
        answers = {
            "assess_change": ("change-manager", {"assessment_decision": "accept"}),
            "authorize_change": ("change-manager", {"authorization_decision": "authorize"}),
            "implement_change": ("change-practitioner", {"implementation_outcome": "successful"}),
        }
        for step in path:
            task = self.open_task(instance["id"], step)
            if step == element_id:
                return task
            user, data = answers[step]
            self.complete(task["id"], user, data)
            if step == "authorize_change":
                clock.advance(timedelta(days=2))
                engine.fire_due_timers()
        raise AssertionError(f"{element_id} is not on the normal change's happy path")


def assert_problem(response: Any, status: int, slug: str | None = None, *, detail: str | None = None) -> dict:
    """Check an RFC 7807 answer and return its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert PROBLEM_FIELDS <= body.keys(), body
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    if slug is not None:
        assert body["type"] == f"urn:changeflow:problem:{slug}", body
    if detail is not None:
        assert detail in body["detail"], body
    return body


def rows(app: Any, *tables: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of ``tables`` (default: those commands write), in primary-key order, as plain dicts."""
    database = app.extensions["changeflow"].database
    snapshot = {}
    with database.snapshot() as session:
        for name in tables or COMMAND_TABLES:
            table = TABLES[name]
            statement = select(table).order_by(*table.primary_key.columns)
            snapshot[name] = [dict(row._mapping) for row in session.execute(statement)]
    return snapshot


def row_counts(app: Any, *tables: str) -> dict[str, int]:
    return {name: len(found) for name, found in rows(app, *tables).items()}
