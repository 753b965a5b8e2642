"""W3, task lists at scale: GET /api/tasks with 100,000 open human tasks.

The tasks are seeded straight into the tables (the list never reads workflow state, so seeded rows are
as good as real ones): five practices, three roles each, a fifth of them assigned, a few barred from the
benchmark user by separation of duties. Then the default list ("what can I work on now") and filtered
lists are timed through one gunicorn worker, on SQLite and on PostgreSQL: wall time per request, and the
server process's CPU per request (from the kernel's counters; on PostgreSQL the database's own CPU is not in it).
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert, text

from bench.common import (
    Client,
    Server,
    create_user,
    fresh_postgres,
    fresh_sqlite,
    postgres_available,
    progress,
    summary,
)
from engine.models import HumanTask, ProcessInstance, ProcessModel, ProcessVersion, TaskExclusion

PRACTICES = ("change", "release", "incident", "problem", "access")
ROLES = ("owner", "manager", "practitioner")
PROCESSES = {practice: [f"{practice}_{n}" for n in range(3)] for practice in PRACTICES}
TASKS_PER_INSTANCE = 4
REQUESTS = 200
QUERIES = {
    "default (actionable)": "/api/tasks",
    "actionable, page 20": "/api/tasks?page=20",
    "actionable, one process": "/api/tasks?process=change_1",
    "actionable, role=manager": "/api/tasks?role=manager",
    "assignee=me": "/api/tasks?assignee=me",
    "scope=all": "/api/tasks?scope=all",
    "scope=all, unassigned, one process": "/api/tasks?scope=all&assignee=none&process=release_2",
    "scope=all, per_page=100": "/api/tasks?scope=all&per_page=100",
}


def seed(url: str, total_tasks: int, *, user: str) -> None:
    """Insert ``total_tasks`` open tasks (in instances of four tasks each), in batches."""
    rng = random.Random(7)
    engine = create_engine(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    instances, tasks, exclusions = [], [], []
    for number in range(total_tasks // TASKS_PER_INSTANCE):
        practice = PRACTICES[number % len(PRACTICES)]
        process = rng.choice(PROCESSES[practice])
        key = f"{practice[:3].upper()}-{number + 1:06d}"
        at = start + timedelta(seconds=number)
        instances.append({"id": number + 1, "business_key": key, "version_id": 1, "process_key": process,
                          "practice": practice, "status": "running", "started_by": "someone", "started_at": at,
                          "updated_at": at, "state": "{}", "serializer_version": "seeded", "data": {},
                          "revision": 1})
        for _ in range(TASKS_PER_INSTANCE):
            task_id = str(uuid.UUID(int=rng.getrandbits(128)))
            roll = rng.random()
            assignee = user if roll < 0.01 else (f"user{rng.randrange(50)}" if roll < 0.2 else None)
            tasks.append({"id": task_id, "instance_id": number + 1, "business_key": key, "process_key": process,
                          "element_id": "task", "title": "Seeded task", "role": rng.choice(ROLES),
                          "practice": practice, "status": "open", "assignee": assignee, "due_at": None,
                          "form_key": None, "instructions": None, "separation": [], "created_at": at})
            if rng.random() < 0.001:  # barred by separation of duties (a requester of ~100 open changes)
                exclusions.append({"task_id": task_id, "username": user, "reason": "seeded"})
    with engine.begin() as connection:
        # The instances' version: PostgreSQL checks the foreign key (SQLite does only when a connection asks).
        model_id = connection.execute(insert(ProcessModel.__table__).returning(ProcessModel.id), {
            "key": "seeded", "name": "Seeded", "practice": "change", "created_at": start}).scalar_one()
        version_id = connection.execute(insert(ProcessVersion.__table__).returning(ProcessVersion.id), {
            "model_id": model_id, "number": 1, "process_id": "seeded", "bpmn_xml": "", "decisions": [],
            "forms": {}, "sha256": "0" * 64, "deployed_by": "bench", "deployed_at": start}).scalar_one()
        for instance in instances:
            instance["version_id"] = version_id
        for batch in range(0, len(instances), 5000):
            connection.execute(insert(ProcessInstance.__table__), instances[batch:batch + 5000])
        for batch in range(0, len(tasks), 5000):
            connection.execute(insert(HumanTask.__table__), tasks[batch:batch + 5000])
        if exclusions:
            connection.execute(insert(TaskExclusion.__table__), exclusions)
    # Fresh statistics (and, on PostgreSQL, a visibility map for index-only counts), as autovacuum would do.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    engine.dispose()


def measure(url: str, total_tasks: int) -> dict[str, Any]:
    token = create_user(url, "bench", "manager:change", "practitioner:change", "manager:release")
    progress(f"  seeding {total_tasks} open tasks")
    seed(url, total_tasks, user="bench")
    server = Server(url)
    results: dict[str, Any] = {}
    try:
        client = Client(server.port, token)
        for label, path in QUERIES.items():
            for _ in range(20):
                client.call("warm-up", "GET", path)
            cpu_before = server.cpu_seconds()
            for _ in range(REQUESTS):
                status, _body, headers = client.call(label, "GET", path)
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
            cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / REQUESTS
            total = json.loads(headers["X-Pagination"])["total"]
            results[label] = {**summary(client.timings[label]), "server_cpu_ms_per_request": round(cpu_ms, 2),
                              "matching_tasks": total}
            progress(f"  {label}: p95 {results[label]['p95_ms']:.2f} ms, server CPU {cpu_ms:.2f} ms a request "
                     f"({total} matching)")
        results["peak_rss_mb"] = server.peak_rss_mb()
        client.close()
    finally:
        server.stop()
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args(argv)
    progress("W3 on SQLite")
    results = {"sqlite": measure(fresh_sqlite("w3"), args.tasks)}
    if postgres_available():
        progress("W3 on PostgreSQL")
        with fresh_postgres("w3") as url:
            results["postgresql"] = measure(url, args.tasks)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
