"""Issue 13, the change schedule at scale: 50,000 scheduled changes over two years on 500 services.

The schedule is rows (service, window, state) that the shipped processes' service tasks write; none of the
timed reads load a workflow, so the rows are seeded straight into the table, as W3 seeds task rows. Each
service has a weekly maintenance window and there are a few dozen blackouts. Timed, each 200 times at random
points of the two years:

- the conflict check of a new change (``schedule.find_conflicts``: overlaps, blackouts, maintenance);
- a page of one month's schedule (100 entries of about 2,000), with each one's conflicts and the month's total
  (``GET /api/schedule?per_page=100``, through Flask's test client);
- a service's iCalendar feed, 14 days back to 180 days ahead (``GET /api/calendar/<token>.ics``).

Wall time per call, and the CPU the process spent (client and server are the same process here, and the
database's own CPU is not in it). Run: ``.venv/bin/python -m bench.schedule_costs [--postgres]``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert

from bench.common import calibration_ms, fresh_postgres, fresh_sqlite, machine, progress, summary
from engine import FakeClock
from migrations import upgrade
from schedule import find_conflicts
from schedule.commands import token_hash
from schedule.models import BlackoutWindow, CalendarToken, Criticality, EntryState, ScheduleEntry, Service

CHANGES = 50_000
SERVICES = 500
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
SAMPLES = 200
STATES = [EntryState.REQUESTED, EntryState.AUTHORIZED, EntryState.IMPLEMENTED, EntryState.WITHDRAWN]


def seed(url: str) -> None:
    upgrade(url)
    rng = random.Random(13)
    engine = create_engine(url)
    now = START
    with engine.begin() as connection:
        connection.execute(insert(Service), [
            {"name": f"service-{n:03d}", "practice": "change", "criticality": Criticality.MEDIUM,
             "maintenance_windows": [{"days": ["sun"], "start": "02:00", "end": "06:00"}],
             "created_at": now, "updated_at": now} for n in range(SERVICES)])
        blackouts = []
        for n in range(40):
            starts = START + timedelta(days=rng.randrange(730))
            blackouts.append({"service": None if n % 3 == 0 else f"service-{rng.randrange(SERVICES):03d}",
                              "starts_at": starts, "ends_at": starts + timedelta(days=3), "reason": "Freeze",
                              "created_by": "bench", "created_at": now})
        connection.execute(insert(BlackoutWindow), blackouts)
        rows = []
        for n in range(CHANGES):
            starts = START + timedelta(minutes=rng.randrange(int(SPAN.total_seconds() // 60)))
            rows.append({"business_key": f"CHG-{n + 1:06d}", "practice": "change", "process_key": "normal_change",
                         "title": f"Change {n + 1}", "service": f"service-{rng.randrange(SERVICES):03d}",
                         "starts_at": starts, "ends_at": starts + timedelta(hours=rng.choice((1, 2, 4, 8))),
                         "state": rng.choice(STATES), "requested_by": f"user-{rng.randrange(200)}",
                         "delivered_by": None, "outcome": None, "updated_at": now})
            if len(rows) == 5000:
                connection.execute(insert(ScheduleEntry), rows)
                rows = []
        connection.execute(insert(CalendarToken), [{"token_hash": token_hash("cal_bench"), "username": "bench",
                                                    "service": "service-007", "created_at": now}])
    engine.dispose()


@contextmanager
def timed(samples: list[float], cpu: list[float]) -> Iterator[None]:
    wall, process = time.perf_counter(), time.process_time()
    yield
    samples.append(time.perf_counter() - wall)
    cpu.append(time.process_time() - process)


def run(url: str) -> dict[str, Any]:
    from app import create_app
    from roles import accounts

    progress(f"seeding {CHANGES} changes on {SERVICES} services")
    seed(url)
    clock = FakeClock(START + timedelta(days=365))
    app = create_app({"CHANGEFLOW_DATABASE_URL": url, "CHANGEFLOW_CLOCK": clock, "CHANGEFLOW_MIGRATE": False,
                      "CHANGEFLOW_DEPLOY_BPMN": False, "CHANGEFLOW_LOG_LEVEL": "WARNING"})
    cf = app.extensions["changeflow"]
    with cf.database.transaction() as session:
        user = accounts.create_user(session, "planner", now=clock.now())
        accounts.grant(session, user, "manager", "change", granted_by="bench", now=clock.now())
        _row, token = accounts.issue_token(session, user, now=clock.now())
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(7)
    results: dict[str, Any] = {}

    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(SAMPLES):
        starts = START + timedelta(minutes=rng.randrange(int(SPAN.total_seconds() // 60)))
        with cf.database.snapshot() as session, timed(wall, cpu):
            find_conflicts(session, service=f"service-{rng.randrange(SERVICES):03d}", starts_at=starts,
                           ends_at=starts + timedelta(hours=2))
    results["conflict check"] = {**summary(wall), "cpu": summary(cpu)}

    for name, path in (("month schedule (GET /api/schedule)", "/api/schedule?from={a}&to={b}&per_page=100"),
                       ("iCalendar feed of a service", "/api/calendar/cal_bench.ics")):
        wall, cpu = [], []
        sizes = []
        for _ in range(SAMPLES // 2 if "month" in name else SAMPLES):
            first = START + timedelta(days=rng.randrange(700))
            month = path.format(a=first.strftime("%Y-%m-%dT00:00:00Z"),
                                b=(first + timedelta(days=31)).strftime("%Y-%m-%dT00:00:00Z"))
            with timed(wall, cpu):
                response = client.get(month, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            sizes.append(len(response.get_json()) if response.is_json else response.get_data().count(b"BEGIN:VEVENT"))
        results[name] = {**summary(wall), "cpu": summary(cpu), "items_median": sorted(sizes)[len(sizes) // 2]}
        progress(f"{name}: p95 {results[name]['p95_ms']:.1f} ms")
    cf.database.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    arguments = parser.parse_args()
    report: dict[str, Any] = {"machine": machine(), "calibration_ms_before": calibration_ms()}
    report["sqlite"] = run(fresh_sqlite("schedule"))
    if arguments.postgres:
        with fresh_postgres("schedule") as url:
            report["postgresql"] = run(url)
    report["calibration_ms_after"] = calibration_ms()
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
