"""Issue 14: the KPI API, its CSV export and the dashboard over 100,000 closed changes.

- History: 100,000 closed changes over the 365 days before now (60% normal, 30% standard, 10% emergency),
  with their authorization and rework tasks and a few release roll-backs, written straight into the mirror
  tables by ``bench.kpi_history`` (the same writer the KPI tests use).
- Requests go through Flask's test client in this process, as W5 does: the figure is what the server spends
  (token or session check, the SQL, the JSON, CSV or page). Wall time per request, and server CPU per
  request: this process's CPU time, plus on PostgreSQL the CPU of the database backends serving it (from
  /proc, since the server runs on this machine).

    .venv/bin/python -m bench.kpis [--changes 100000] [--requests 60] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import (
    RUNS,
    calibration_ms,
    fresh_postgres,
    fresh_sqlite,
    machine,
    postgres_available,
    progress,
    summary,
)
from bench.kpi_history import Record, Task, generated_history, insert_history

PASSWORD = "bench password 1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def make_app(url: str) -> Any:
    from app import create_app

    return create_app({"CHANGEFLOW_DATABASE_URL": url, "CHANGEFLOW_LOG_LEVEL": "WARNING", "CHANGEFLOW_MIGRATE": True,
                       "CHANGEFLOW_DEPLOY_BPMN": True, "CHANGEFLOW_DEMO_USERS": False,
                       "CHANGEFLOW_TIMER_THREAD": False})


def add_owner(app: Any) -> str:
    """The change owner, with a password (the dashboard) and a token (the API)."""
    from roles import accounts

    cf = app.extensions["changeflow"]
    with cf.database.transaction() as session:
        user = accounts.create_user(session, "owner", now=cf.now())
        accounts.grant(session, user, "owner", "change", granted_by="bench", now=cf.now())
        accounts.set_password(session, user, PASSWORD, now=cf.now())
        _row, token = accounts.issue_token(session, user, now=cf.now())
    return str(token)


def seed(app: Any, count: int) -> float:
    cf = app.extensions["changeflow"]
    began = time.perf_counter()
    with cf.database.transaction() as session:
        insert_history(session, generated_history(count, end=datetime.now(UTC)))
    if cf.database.engine.dialect.name == "postgresql":  # fresh statistics, as autovacuum would give
        with cf.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - began


def _backend_cpu(app: Any) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to this database (0 on SQLite)."""
    database = app.extensions["changeflow"].database
    if database.engine.dialect.name != "postgresql":
        return 0.0
    with database.engine.connect() as connection:
        pids = [row[0] for row in connection.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def close_one_change(app: Any) -> None:
    """A change closes now: the next report refreshes kpi_record and recomputes the current period."""
    now = datetime.now(UTC)
    with app.extensions["changeflow"].database.transaction() as session:
        insert_history(session, [Record("normal_change", now - timedelta(hours=30), now,
                                        {"implementation_outcome": "successful", "authorized": True},
                                        [Task("authorize_change", now - timedelta(hours=30), now - timedelta(hours=20),
                                              now + timedelta(hours=18))])])


def measure(app: Any, get: Any, path: str, requests: int, *, before: Any = None) -> dict[str, Any]:
    for _ in range(3):  # warm: the first request builds caches and pools
        response = get(path)
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(requests):
        if before is not None:
            before(app)
        backend_before, cpu_before, began = _backend_cpu(app), time.process_time(), time.perf_counter()
        response = get(path)
        wall.append(time.perf_counter() - began)
        server_cpu = time.process_time() - cpu_before
        cpu.append(server_cpu + (_backend_cpu(app) - backend_before))
        assert response.status_code == 200
    return {"wall": summary(wall), "cpu": summary(cpu), "bytes": len(response.get_data())}


def run_backend(url: str, changes: int, requests: int) -> dict[str, Any]:
    app = make_app(url)
    token = add_owner(app)
    progress(f"seeding {changes} closed changes")
    seconds = seed(app, changes)
    progress(f"seeded in {seconds:.0f} s")
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    web = app.test_client()
    web.get("/sign-in")
    with web.session_transaction() as session:
        csrf = session["csrf"]
    assert web.post("/sign-in", data={"username": "owner", "password": PASSWORD, "csrf_token": csrf}).status_code == 302
    today = date.today()
    year_ago = (today - timedelta(days=365)).isoformat()
    half_year_weeks = (today - timedelta(weeks=26)).isoformat()
    cases = {
        "API, last 6 months (default)": (lambda p: api.get(p, headers=headers), "/api/kpis"),
        "API, 12 months": (lambda p: api.get(p, headers=headers), f"/api/kpis?from={year_ago}&to={today}"),
        "API, 27 weeks": (lambda p: api.get(p, headers=headers),
                          f"/api/kpis?period=week&from={half_year_weeks}&to={today}"),
        "CSV, 12 months": (lambda p: api.get(p, headers=headers), f"/api/kpis.csv?from={year_ago}&to={today}"),
        "dashboard, last 6 months (default)": (web.get, "/kpis"),
        "dashboard, 12 months": (web.get, f"/kpis?from={year_ago}&to={today}"),
    }
    results: dict[str, Any] = {"seed_seconds": seconds}
    began = time.perf_counter()
    assert api.get("/api/kpis", headers=headers).status_code == 200
    results["first report (kpi_record built for all 100,000, 6 periods computed) s"] = time.perf_counter() - began
    progress(f"first report: {time.perf_counter() - began:.1f} s")
    cases["API, last 6 months, a change closed before each request"] = cases["API, last 6 months (default)"]
    cases["dashboard, last 6 months, a change closed before each request"] = cases[
        "dashboard, last 6 months (default)"]
    for name, (get, path) in cases.items():
        results[name] = measure(app, get, path, requests,
                                before=close_one_change if "closed before each" in name else None)
        figures = results[name]
        progress(f"{name}: wall median {figures['wall']['median_ms']:.1f} ms, p95 {figures['wall']['p95_ms']:.1f} ms; "
                 f"server CPU median {figures['cpu']['median_ms']:.1f} ms, p95 {figures['cpu']['p95_ms']:.1f} ms")
    app.extensions["changeflow"].database.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    options = parser.parse_args()
    backends = options.backend or ["sqlite", "postgresql"]
    results: dict[str, Any] = {"machine": machine(), "calibration_ms_before": calibration_ms(),
                               "changes": options.changes}
    if "sqlite" in backends:
        progress("SQLite")
        results["sqlite"] = run_backend(fresh_sqlite("kpis"), options.changes, options.requests)
    if "postgresql" in backends and postgres_available():
        progress("PostgreSQL")
        with fresh_postgres("kpis") as url:
            results["postgresql"] = run_backend(url, options.changes, options.requests)
    results["calibration_ms_after"] = calibration_ms()
    RUNS.mkdir(parents=True, exist_ok=True)
    target = RUNS / f"kpis-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    target.write_text(json.dumps(results, indent=2))
    progress(f"raw figures in {target}")


if __name__ == "__main__":
    main()
