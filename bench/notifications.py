"""Issue 15's figures: what notifications cost.

1. Delivery to a local SMTP server (aiosmtpd in its own process, accepting and discarding): deliveries
   already fanned out, sent by the worker's loop (claim a batch, send over one connection, record each
   outcome in its own transaction). Target: at least 200 messages/s.
2. W1 (bench/w1_lifecycle.py's lifecycle) with notifications on and off, runs interleaved (on, off, on, off...)
   on one shared, noisy machine: server CPU per instance and wall time. Target: on within 10% of off. With them
   on, each command also writes its outbox rows; fanning those out and delivering them is the worker's job,
   timed separately.

    .venv/bin/python -m bench.notifications [--messages 2000] [--instances 100] [--rounds 3] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    Client,
    Server,
    create_user,
    deploy_workload,
    free_port,
    fresh_postgres,
    fresh_sqlite,
    machine,
    progress,
)
from bench.w1_lifecycle import PROCESS, run_instances


def smtp_sink() -> tuple[subprocess.Popen[bytes], int]:
    """aiosmtpd in a separate process, discarding what it accepts (its own CPU is not the worker's)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                                "-c", "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the SMTP sink did not start")


def sink_ceiling(port: int, messages: int, connections: int = 4) -> dict[str, Any]:
    """What the SMTP server takes with no database and no worker: plain smtplib over ``connections`` connections,
    at the same moment as the delivery runs. On a busy shared machine this, not the worker, bounds the rate."""
    import smtplib
    import threading

    from notifications.transports import mime_message

    message = notifier_message()
    mail = mime_message("bench@localhost", "someone@example.com", message["subject"], message["text"],
                        message["html"], "cf-bench-ceiling")

    def send(count: int) -> None:
        connection = smtplib.SMTP("127.0.0.1", port)
        for _ in range(count):
            connection.sendmail("bench@localhost", ["someone@example.com"], mail)
        connection.quit()

    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(messages // connections,)) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"messages_per_s": round(messages / (time.perf_counter() - started))}


def smtp_delivery(database_url: str, messages: int, port: int) -> dict[str, Any]:
    """Send ``messages`` pending email deliveries through the worker's loop; messages/s and CPU."""
    import migrations
    from engine import Database, Engine, SystemClock
    from notifications import NotificationSettings, Notifier, SmtpSettings
    from notifications.models import Delivery
    from roles.policy import role_for_lane

    migrations.upgrade(database_url)
    database = Database(database_url)
    engine = Engine(database, lane_roles=role_for_lane, clock=SystemClock())
    notifier = Notifier(engine, NotificationSettings(smtp=SmtpSettings("127.0.0.1", port, security="none")),
                        "bench secret")
    now = datetime.now(UTC)
    message = notifier_message()
    with database.transaction() as session:
        for number in range(messages):
            session.add(Delivery(idempotency_key=f"cf-bench-{now.timestamp()}-{number}", kind="task.ready",
                                 channel="email", recipient=f"user{number}", address=f"user{number}@example.com",
                                 message=message, status="pending", attempts=0, next_attempt_at=now, created_at=now))
    cpu, started = time.process_time(), time.perf_counter()
    report = notifier.run_pass()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    database.dispose()
    return {"messages": report.delivered, "seconds": round(elapsed, 2), "messages_per_s": round(messages / elapsed),
            "worker_cpu_ms_per_message": round(cpu * 1000 / messages, 2)}


def notifier_message() -> dict[str, str]:
    from notifications.kinds import Kind
    from notifications.messages import describe

    text = describe(Kind.TASK_READY, "CHG-000042", "change", "task-id",
                    {"title": "Assess change", "role": "manager", "due_at": None}, "alice")
    return text.email("http://127.0.0.1:5000", "Bob")


def w1_on_off(database_url: str, instances: int, rounds: int) -> dict[str, Any]:
    """W1 with notifications on, then off, ``rounds`` times on fresh servers over one database."""
    token = create_user(database_url, "bench", "owner:bench", "manager:bench", "practitioner:bench")
    figures: dict[str, dict[str, list[float]]] = {"on": {"cpu_ms": [], "wall_ms": []},
                                                  "off": {"cpu_ms": [], "wall_ms": []}}
    deployed = False
    for round_number in range(rounds):
        for mode in ("on", "off"):
            server = Server(database_url, workers=1, threads=4, CHANGEFLOW_NOTIFICATIONS="1" if mode == "on" else "0")
            try:
                client = Client(server.port, token)
                if not deployed:
                    deploy_workload(client, PROCESS, "w1_two_tasks.bpmn")
                    deployed = True
                run_instances(client, 10)  # warm up
                cpu = server.cpu_seconds()
                elapsed = run_instances(client, instances)
                figures[mode]["cpu_ms"].append((server.cpu_seconds() - cpu) * 1000 / instances)
                figures[mode]["wall_ms"].append(elapsed * 1000 / instances)
                client.close()
            finally:
                server.stop()
            progress(f"  round {round_number + 1}, notifications {mode}: "
                     f"server CPU {figures[mode]['cpu_ms'][-1]:.1f} ms, wall {figures[mode]['wall_ms'][-1]:.1f} ms "
                     "per instance")
    result: dict[str, Any] = {}
    for mode, values in figures.items():
        result[mode] = {"server_cpu_ms_per_instance": round(statistics.median(values["cpu_ms"]), 2),
                        "wall_ms_per_instance": round(statistics.median(values["wall_ms"]), 2),
                        "runs_cpu": [round(v, 1) for v in values["cpu_ms"]],
                        "runs_wall": [round(v, 1) for v in values["wall_ms"]]}
    result["cpu_on_vs_off"] = round(result["on"]["server_cpu_ms_per_instance"]
                                    / result["off"]["server_cpu_ms_per_instance"] - 1, 3)
    result["wall_on_vs_off"] = round(result["on"]["wall_ms_per_instance"] / result["off"]["wall_ms_per_instance"] - 1,
                                     3)
    result["worker"] = worker_cost(database_url)
    return result


def worker_cost(database_url: str) -> dict[str, Any]:
    """The worker's CPU to fan out the outbox rows W1 left (in-app notices; no mail: the bench user has none)."""
    from engine import Database, Engine, SystemClock
    from notifications import NotificationSettings, Notifier
    from roles.policy import role_for_lane

    database = Database(database_url)
    notifier = Notifier(Engine(database, lane_roles=role_for_lane, clock=SystemClock()), NotificationSettings(),
                        "bench secret")
    cpu, started = time.process_time(), time.perf_counter()
    report = notifier.run_pass()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    database.dispose()
    return {"outbox_rows": report.fanned_out, "seconds": round(elapsed, 2),
            "cpu_ms_per_row": round(cpu * 1000 / max(report.fanned_out, 1), 2)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--skip-w1", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": machine()}
    sink, port = smtp_sink()
    try:
        progress("SMTP server alone (no database, no worker)")
        results["smtp server alone"] = sink_ceiling(port, min(args.messages, 1000))
        progress(f"  {results['smtp server alone']}")
        progress("SMTP delivery, SQLite")
        results["smtp, sqlite"] = smtp_delivery(fresh_sqlite("notify_smtp"), args.messages, port)
        progress(f"  {results['smtp, sqlite']}")
        if args.postgres:
            with fresh_postgres("notify_smtp") as url:
                progress("SMTP delivery, PostgreSQL")
                results["smtp, postgresql"] = smtp_delivery(url, args.messages, port)
                progress(f"  {results['smtp, postgresql']}")
    finally:
        sink.kill()
    if not args.skip_w1:
        progress("W1 with notifications on and off, SQLite")
        results["w1, sqlite"] = w1_on_off(fresh_sqlite("notify_w1"), args.instances, args.rounds)
        if args.postgres:
            with fresh_postgres("notify_w1") as url:
                progress("W1 with notifications on and off, PostgreSQL")
                results["w1, postgresql"] = w1_on_off(url, args.instances, args.rounds)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
