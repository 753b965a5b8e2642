"""W1, lifecycle throughput: start -> Approve -> Implement -> end, through the HTTP API.

One sequential keep-alive client does, per instance: start, list my tasks, get the task with its form,
complete; then list, get and complete the second task. One gunicorn worker process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from bench.common import (
    Client,
    Server,
    available_servers,
    create_user,
    deploy_workload,
    fresh_postgres,
    fresh_sqlite,
    postgres_size,
    progress,
    sqlite_size,
    summary,
)

PROCESS = "w1_lifecycle"


def run_instances(client: Client, count: int) -> float:
    """Drive ``count`` instances to completion; return the wall time in seconds."""
    started = time.perf_counter()
    for number in range(count):
        instance = client.ok("start", "POST", "/api/instances", {"process": PROCESS, "data": {"n": number}})
        for step, data in (("approve", {"approved": True, "comment": "looks fine"}),
                           ("implement", {"outcome": "done", "notes": "went well"})):
            tasks = client.ok("list", "GET", f"/api/tasks?process={PROCESS}&per_page=5")
            task = next(t for t in tasks if t["instance_id"] == instance["id"] and t["element_id"] == step)
            detail = client.ok("get", "GET", f"/api/tasks/{task['id']}")
            if detail["form"] is None:
                raise RuntimeError("the task has no form")
            client.ok("complete", "POST", f"/api/tasks/{task['id']}/complete", {"data": data})
    return time.perf_counter() - started


def measure(database_url: str, sizes: list[int], *, size_of: Any, server_kind: str = "gunicorn",
            repeat: int = 3) -> dict[str, Any]:
    """Each size is run ``repeat`` times on the same server: the machine is shared and noisy, so the
    median run is the figure and the spread is reported with it."""
    token = create_user(database_url, "bench", "owner:bench", "manager:bench", "practitioner:bench")
    server = Server(database_url, workers=1, threads=4, kind=server_kind)
    results: dict[str, Any] = {}
    try:
        client = Client(server.port, token)
        deploy_workload(client, PROCESS, "w1_two_tasks.bpmn")
        run_instances(client, 10)  # warm up: caches, connection pool, code paths
        for count in sizes:
            client.timings.clear()
            throughputs, growths, cpu_ms = [], [], []
            for _ in range(repeat):
                before = size_of(database_url)
                cpu_before = server.cpu_seconds()
                elapsed = run_instances(client, count)
                cpu_ms.append((server.cpu_seconds() - cpu_before) * 1000 / count)
                growths.append((size_of(database_url) - before) / count)
                throughputs.append(count / elapsed)
            median = statistics.median(throughputs)
            results[f"N={count}"] = {
                "instances_per_s": median,
                "instances_per_s_runs": [round(value, 1) for value in throughputs],
                "ms_per_instance": 1000 / median,
                "server_cpu_ms_per_instance": statistics.median(cpu_ms),
                "server_cpu_ms_per_instance_runs": [round(value, 1) for value in cpu_ms],
                "requests": {label: summary(samples) for label, samples in client.timings.items()},
                "db_growth_bytes_per_instance": round(statistics.median(growths)),
            }
            progress(f"  N={count}: {median:.1f} instances/s (runs: {', '.join(f'{v:.1f}' for v in throughputs)}), "
                     f"server CPU {statistics.median(cpu_ms):.1f} ms per instance, "
                     f"complete median {results[f'N={count}']['requests']['complete']['median_ms']:.2f} ms")
        results["peak_rss_mb"] = server.peak_rss_mb()
        results["http_statuses"] = dict(client.statuses)
        client.close()
    finally:
        server.stop()
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="50,200")
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[str, Any] = {}
    for kind in available_servers():
        progress(f"W1 on SQLite, {kind}")
        results[f"sqlite, {kind}"] = measure(fresh_sqlite("w1"), sizes, size_of=sqlite_size, server_kind=kind)
        if args.postgres:
            progress(f"W1 on PostgreSQL, {kind}")
            with fresh_postgres("w1") as url:
                results[f"postgresql, {kind}"] = measure(url, sizes, size_of=postgres_size, server_kind=kind)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
