"""W5, the web app: My work at 100,000 open tasks, the record page, and what each page downloads.

- Server time: requests through Flask's test client in the benchmark's own process (no network, no
  browser), so the figure is what the server spends on the page: the session check, the queries and the
  template. The task list is seeded as in W3 (five practices, three roles, a fifth assigned), with a title,
  risk and planned window on every record and a due date on a third of the tasks, so the inbox sorts by due
  date over real values.
- The record page: 30 real normal changes (started and moved on through the engine), each page rendered
  with its trail and who may act; and the diagram's JSON, which reads the saved state.
- JavaScript and CSS per page: every local script and stylesheet a page links, gzip-compressed (level 6,
  what a web server's default gzip sends), summed per page.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert, text

from bench.common import fresh_postgres, fresh_sqlite, postgres_available, progress, summary
from bench.w3_task_lists import PRACTICES, PROCESSES, ROLES, TASKS_PER_INSTANCE
from engine.models import HumanTask, ProcessInstance, ProcessModel

REQUESTS = 200
PASSWORD = "bench password 1"
INBOX_QUERIES = {
    "My work (default: actionable, by due date)": "/",
    "My work, page 20": "/?page=20",
    "My work, oldest first": "/?sort=created",
    "My work, one process": "/?process=change_1",
    "My work, assigned to me": "/?assigned=me",
}


def seed(url: str, total_tasks: int, *, user: str) -> None:
    """W3's open tasks, with record data (title, risk, planned window) and due dates on a third of them.

    Ids follow the instances already there (explicit ids do not move PostgreSQL's sequence)."""
    rng = random.Random(11)
    engine = create_engine(url)
    with engine.connect() as connection:
        first_id = (connection.execute(text("SELECT max(id) FROM process_instance")).scalar() or 0) + 1
    start = datetime(2026, 1, 1, tzinfo=UTC)
    instances, tasks = [], []
    for number in range(total_tasks // TASKS_PER_INSTANCE):
        practice = PRACTICES[number % len(PRACTICES)]
        process = rng.choice(PROCESSES[practice])
        key = f"S{practice[:2].upper()}-{number + 1:06d}"
        at = start + timedelta(seconds=number)
        planned = at + timedelta(days=rng.randrange(1, 60))
        data = {"title": f"Seeded change {number}", "risk": rng.choice(("low", "medium", "high")),
                "planned_start": planned.isoformat(), "planned_end": (planned + timedelta(hours=2)).isoformat(),
                "affected_service": f"service-{number % 40}"}
        instances.append({"id": first_id + number, "business_key": key, "version_id": 1, "process_key": process,
                          "practice": practice, "status": "running", "started_by": "someone", "started_at": at,
                          "updated_at": at, "state": "{}", "serializer_version": "seeded", "data": data,
                          "revision": 1})
        for _ in range(TASKS_PER_INSTANCE):
            roll = rng.random()
            assignee = user if roll < 0.01 else (f"user{rng.randrange(50)}" if roll < 0.2 else None)
            due = at + timedelta(hours=rng.randrange(1, 24 * 60)) if rng.random() < 0.33 else None
            tasks.append({"id": str(uuid.UUID(int=rng.getrandbits(128))), "instance_id": first_id + number,
                          "business_key": key, "process_key": process, "element_id": "task",
                          "title": "Seeded task", "role": rng.choice(ROLES), "practice": practice, "status": "open",
                          "assignee": assignee, "due_at": due, "form_key": None, "instructions": None,
                          "separation": [], "created_at": at})
    with engine.begin() as connection:
        # The seeded processes exist as models, as real ones do (My work's process filter looks their practice up).
        connection.execute(insert(ProcessModel.__table__), [
            {"key": key, "name": key.replace("_", " ").capitalize(), "practice": practice, "created_at": start}
            for practice, keys in PROCESSES.items() for key in keys])
        for batch in range(0, len(instances), 5000):
            connection.execute(insert(ProcessInstance.__table__), instances[batch:batch + 5000])
        for batch in range(0, len(tasks), 5000):
            connection.execute(insert(HumanTask.__table__), tasks[batch:batch + 5000])
    if engine.dialect.name == "postgresql":  # fresh statistics and visibility map, as autovacuum would give
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    # SQLite is left without ANALYZE statistics, as Changeflow runs it: nothing in the app runs ANALYZE, and
    # with its per-column averages SQLite misjudges "assignee IS NULL" (most open tasks) as selective and
    # walks the wrong index (see bench/RESULTS.md, W5).
    engine.dispose()


def make_app(url: str) -> Any:
    from app import create_app

    return create_app({"CHANGEFLOW_DATABASE_URL": url, "CHANGEFLOW_LOG_LEVEL": "WARNING",
                       "CHANGEFLOW_DEMO_USERS": False, "CHANGEFLOW_TIMER_THREAD": False})


def add_people(app: Any) -> None:
    from roles import accounts

    cf = app.extensions["changeflow"]
    with cf.database.transaction() as session:
        for name, grants in (("bench", [("manager", "change"), ("practitioner", "change"), ("manager", "release")]),
                             ("requester", [("practitioner", "change")])):
            user = accounts.create_user(session, name, now=cf.now())
            for role, practice in grants:
                accounts.grant(session, user, role, practice, granted_by="bench", now=cf.now())
            accounts.set_password(session, user, PASSWORD, now=cf.now())


def real_changes(app: Any, count: int) -> list[str]:
    """Normal changes run through the engine: a third waiting for assessment, a third for authorization,
    a third for implementation (their planned start is past, so the timer has fired)."""
    from engine import CompleteTask, StartInstance

    engine = app.extensions["changeflow"].engine
    keys = []
    for n in range(count):
        start = datetime.now(UTC) - timedelta(days=1)
        data = {"title": f"Real change {n}", "description": "Bench.", "affected_service": "mail",
                "category": "application", "impact": "medium", "likelihood": "low",
                "planned_start": start.isoformat(), "planned_end": (start + timedelta(hours=1)).isoformat(),
                "implementation_plan": "x", "backout_plan": "y", "test_plan": "z"}
        instance = engine.run(StartInstance("normal_change", data), actor="requester")
        keys.append(instance.business_key)
        if n % 3 >= 1:
            done = engine.run(CompleteTask(instance.tasks[0].id, {"assessment_decision": "accept"}), actor="bench")
            if n % 3 == 2:
                engine.run(CompleteTask(done.next_tasks[0].id, {"authorization_decision": "authorize"}),
                           actor="bench")
    engine.fire_due_timers()
    return keys


def timed(client: Any, path: str, samples: list[float]) -> Any:
    began = time.perf_counter()
    response = client.get(path)
    samples.append(time.perf_counter() - began)  # seconds, as summary() expects
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}")
    return response


def page_weight(client: Any, html: str) -> dict[str, int]:
    """The gzip-compressed bytes of the scripts and stylesheets a page links (all served by the app)."""
    assets = re.findall(r'<(?:script[^>]*\bsrc|link[^>]*\bhref)="(/assets/[^"]+)"', html)
    weights = {}
    for path in assets:
        response = client.get(path)
        weights[path] = len(gzip.compress(response.get_data(), compresslevel=6))
        response.close()
    return weights


def measure(url: str, total_tasks: int) -> dict[str, Any]:
    app = make_app(url)  # migrates and deploys bpmn/
    add_people(app)
    keys = real_changes(app, 30)
    progress(f"  seeding {total_tasks} open tasks")
    seed(url, total_tasks, user="bench")
    client = app.test_client()
    sign_in = client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', sign_in.get_data(as_text=True)).group(1)
    assert client.post("/sign-in", data={"csrf_token": token, "username": "bench",
                                         "password": PASSWORD}).status_code == 302
    results: dict[str, Any] = {}
    for label, path in INBOX_QUERIES.items():
        samples: list[float] = []
        for _ in range(20):
            timed(client, path, [])
        for _ in range(REQUESTS):
            response = timed(client, path, samples)
        total = re.search(r"\((\d+) in all\)|(\d+) in all", response.get_data(as_text=True))
        results[label] = {**summary(samples), "matching_tasks": int(next(g for g in total.groups() if g))}
        progress(f"  {label}: p95 {results[label]['p95_ms']:.2f} ms ({results[label]['matching_tasks']} tasks)")
    for label, template in (("record page", "/changes/{key}"), ("record diagram JSON", "/records/{key}/diagram.json")):
        samples = []
        for key in keys[:5]:
            timed(client, template.format(key=key), [])
        for n in range(REQUESTS):
            timed(client, template.format(key=keys[n % len(keys)]), samples)
        results[label] = summary(samples)
        progress(f"  {label}: p95 {results[label]['p95_ms']:.2f} ms")
    task_id = re.search(r'href="/tasks/([0-9a-f-]{36})"', client.get(f"/changes/{keys[0]}").get_data(as_text=True))
    weights = {}
    for label, path in (("sign-in", "/sign-in"), ("My work", "/"), ("task", f"/tasks/{task_id.group(1)}"),
                        ("record", f"/changes/{keys[0]}"), ("start", "/start"), ("find", "/find"),
                        ("account", "/account")):
        html = client.get(path).get_data(as_text=True)
        parts = page_weight(client, html)
        weights[label] = {"js_css_gzip_bytes": sum(parts.values()), "assets": parts,
                          "html_gzip_bytes": len(gzip.compress(html.encode(), compresslevel=6))}
    results["page_weight"] = weights
    progress("  JS+CSS per page (gzip): " + ", ".join(f"{k} {v['js_css_gzip_bytes'] / 1024:.1f} KB"
                                                       for k, v in weights.items()))
    app.extensions["changeflow"].database.dispose()
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args(argv)
    progress("W5 on SQLite")
    results = {"sqlite": measure(fresh_sqlite("w5"), args.tasks)}
    if postgres_available():
        progress("W5 on PostgreSQL")
        with fresh_postgres("w5") as url:
            results["postgresql"] = measure(url, args.tasks)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
