"""Where W1's time goes in the server: a py-spy sampling profile of the gunicorn worker, by layer.

    .venv/bin/pip install py-spy && .venv/bin/python -m bench.profile_w1 [--instances 600]

It runs the W1 client against a fresh server, samples the worker process for a while, and groups the
samples: idle waiting, gunicorn's own work, authentication, routing, queries, the engine (SQL and
SpiffWorkflow separately) and serialisation. Prints percentages; the raw samples stay in bench/runs/.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import threading
from collections import Counter
from pathlib import Path

from bench.common import RUNS, Client, Server, create_user, deploy_workload, fresh_sqlite, progress
from bench.w1_lifecycle import PROCESS, run_instances

IDLE = ("_worker <- Thread.run", "EpollSelector.select")
LAYERS = [  # (label, test on the joined stack); the first that matches wins
    ("idle: waiting for requests", lambda s: "Flask.__call__" not in s and any(mark in s for mark in IDLE)),
    ("gunicorn: sockets, parsing, thread hand-off", lambda s: "Flask.__call__" not in s),
    ("authentication", lambda s: "authenticate (api/auth.py" in s or "record_token_use (api/auth.py" in s),
    ("engine: SpiffWorkflow", lambda s: "Engine.run (" in s and "SpiffWorkflow" in s),
    ("engine: SQLAlchemy and SQLite", lambda s: "Engine.run (" in s and "sqlalchemy" in s),
    ("engine: the rest", lambda s: "Engine.run (" in s),
    ("queries: task list, task detail, instance", lambda s: "Engine.list_tasks" in s or "Engine.task_detail" in s),
    ("serialising responses", lambda s: "Schema.dump" in s or "json/encoder" in s),
    ("Flask, flask-smorest, webargs", lambda s: True),
]


def layers(raw: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        tail = " <- ".join(frame.split(" (")[0] for frame in reversed(frames[-2:]))
        joined = stack + " " + tail
        label = next(name for name, matches in LAYERS if matches(joined))
        counts[label] += int(number)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=600)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is needed: .venv/bin/pip install py-spy")
    url = fresh_sqlite("profile_w1")
    token = create_user(url, "bench", "owner:bench", "manager:bench", "practitioner:bench")
    server = Server(url)
    raw = RUNS / "profile_w1.txt"
    try:
        client = Client(server.port, token)
        deploy_workload(client, PROCESS, "w1_two_tasks.bpmn")
        run_instances(client, 20)
        load = threading.Thread(target=run_instances, args=(client, args.instances))
        load.start()
        worker = server.pids()[-1]
        progress(f"sampling gunicorn worker {worker} for {args.seconds} s")
        subprocess.run([py_spy, "record", "--pid", str(worker), "--duration", str(args.seconds), "--rate", "500",
                        "--format", "raw", "--output", str(raw), "--nonblocking"], check=True, capture_output=True)
        load.join()
        client.close()
    finally:
        server.stop()
    counts = layers(raw)
    total = sum(counts.values())
    for label, samples in counts.most_common():
        print(f"{samples * 100 / total:5.1f}%  {label}")


if __name__ == "__main__":
    main()
