"""W4, scale-out on PostgreSQL: gunicorn workers plus timer workers, under concurrent clients.

The process is W1 with a one-second timer between Approve and Implement. Eight client processes each
start their instances and complete Approve, then complete Implement as the timer workers fire the timers.
The run is done with 1 and with 4 gunicorn workers (2 timer workers each time), and then checked: no 5xx,
every instance completed once, every timer fired once, no task completed twice.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import time
from collections import Counter
from typing import Any

from sqlalchemy import create_engine, text

from bench.common import (
    BIN,
    ROOT,
    Client,
    Server,
    create_user,
    deploy_workload,
    fresh_postgres,
    postgres_available,
    progress,
    server_env,
    summary,
)

PROCESS = "w4_timer"


def client_run(port: int, token: str, count: int, queue: Any) -> None:
    """One client process: start ``count`` instances, approve them, then implement each once it is ready."""
    client = Client(port, token)
    started = time.perf_counter()
    mine: set[int] = set()
    for number in range(count):
        instance = client.ok("start", "POST", "/api/instances", {"process": PROCESS, "data": {"n": number}})
        mine.add(instance["id"])
        task = next(t for t in instance["tasks"] if t["element_id"] == "approve")
        client.ok("get", "GET", f"/api/tasks/{task['id']}")
        client.ok("complete", "POST", f"/api/tasks/{task['id']}/complete",
                  {"data": {"approved": True, "comment": "go"}})
    waiting = set(mine)
    while waiting:
        tasks = client.ok("list", "GET", f"/api/tasks?process={PROCESS}&per_page=200")
        ready = [t for t in tasks if t["instance_id"] in waiting and t["element_id"] == "implement"]
        if not ready:
            time.sleep(0.1)
            continue
        for task in ready:
            client.ok("get", "GET", f"/api/tasks/{task['id']}")
            client.ok("complete", "POST", f"/api/tasks/{task['id']}/complete", {"data": {"outcome": "done"}})
            waiting.discard(task["instance_id"])
    queue.put({"elapsed": time.perf_counter() - started, "timings": dict(client.timings),
               "statuses": dict(client.statuses)})
    client.close()


def run(url: str, token: str, *, workers: int, clients: int, per_client: int) -> dict[str, Any]:
    server = Server(url, workers=workers, threads=4)
    timer_workers = [subprocess.Popen([str(BIN / "flask"), "--app", "app", "worker", "--interval", "0.2"], cwd=ROOT,
                                      env=server_env(url, CHANGEFLOW_DEPLOY_BPMN="0"),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for _ in range(2)]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    try:
        started = time.perf_counter()
        processes = [context.Process(target=client_run, args=(server.port, token, per_client, queue))
                     for _ in range(clients)]
        for process in processes:
            process.start()
        reports = [queue.get(timeout=600) for _ in processes]
        for process in processes:
            process.join()
        elapsed = time.perf_counter() - started
        peak_rss = server.peak_rss_mb()
    finally:
        for worker in timer_workers:
            worker.terminate()
            worker.wait(15)
        server.stop()
    timings: dict[str, list[float]] = {}
    statuses: Counter[int] = Counter()
    for report in reports:
        statuses.update({int(k): v for k, v in report["statuses"].items()})
        for label, samples in report["timings"].items():
            timings.setdefault(label, []).extend(samples)
    total = clients * per_client
    return {"gunicorn_workers": workers, "timer_workers": 2, "clients": clients, "instances": total,
            "instances_per_s": total / elapsed, "wall_s": elapsed,
            "requests": {label: summary(samples) for label, samples in timings.items()},
            "http_statuses": dict(statuses), "peak_rss_mb_per_worker": peak_rss}


def check(url: str, expected: int) -> dict[str, Any]:
    """What the database says happened: each instance done once, each timer fired once, no double completion."""
    engine = create_engine(url)
    with engine.connect() as connection:
        def scalar(sql: str) -> Any:
            return connection.execute(text(sql)).scalar_one()

        result = {
            "instances": scalar(f"SELECT count(*) FROM process_instance WHERE process_key = '{PROCESS}'"),
            "completed_instances": scalar(
                f"SELECT count(*) FROM process_instance WHERE process_key = '{PROCESS}' AND status = 'completed'"),
            "instances_whose_timer_fired_other_than_once": scalar(
                "SELECT count(*) FROM (SELECT i.id FROM process_instance i LEFT JOIN event e ON e.instance_id = i.id "
                f"AND e.type = 'timer_fired' WHERE i.process_key = '{PROCESS}' GROUP BY i.id "
                "HAVING count(e.id) <> 1) AS wrong"),
            "tasks_completed_more_than_once": scalar(
                "SELECT count(*) FROM (SELECT task_id FROM event WHERE type = 'completed' GROUP BY task_id "
                "HAVING count(*) > 1) AS twice"),
            "instances_completed_more_than_once": scalar(
                "SELECT count(*) FROM (SELECT instance_id FROM event WHERE type = 'instance_completed' "
                "GROUP BY instance_id HAVING count(*) > 1) AS twice"),
        }
    engine.dispose()
    result["ok"] = (result["instances"] == expected and result["completed_instances"] == expected
                    and not result["instances_whose_timer_fired_other_than_once"]
                    and not result["tasks_completed_more_than_once"]
                    and not result["instances_completed_more_than_once"])
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=25)
    args = parser.parse_args(argv)
    if not postgres_available():
        progress("W4 skipped: PostgreSQL is not reachable")
        return {"skipped": "PostgreSQL is not reachable"}
    results: dict[str, Any] = {}
    for workers in (1, 4):
        progress(f"W4 with {workers} gunicorn worker(s), 2 timer workers, {args.clients} clients")
        with fresh_postgres(f"w4_{workers}") as url:
            token = create_user(url, "bench", "owner:bench", "manager:bench", "practitioner:bench")
            deployer = Server(url)
            try:
                client = Client(deployer.port, token)
                deploy_workload(client, PROCESS, "w4_timer.bpmn")
                client.close()
            finally:
                deployer.stop()
            outcome = run(url, token, workers=workers, clients=args.clients, per_client=args.per_client)
            outcome["check"] = check(url, args.clients * args.per_client)
            results[f"{workers} worker(s)"] = outcome
            progress(f"  {outcome['instances_per_s']:.1f} instances/s; statuses {outcome['http_statuses']}; "
                     f"check {'passed' if outcome['check']['ok'] else 'FAILED'}")
    one, four = results["1 worker(s)"], results["4 worker(s)"]
    results["speed_up_4_vs_1"] = four["instances_per_s"] / one["instances_per_s"]
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
