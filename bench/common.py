"""What every benchmark needs: a real server process, a keep-alive HTTP client, fresh databases, statistics.

Benchmarks are not tests: they print medians and p95 and record them in bench/RESULTS.md; nothing here
asserts on time.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "bench" / "runs"
WORKLOADS = ROOT / "bench" / "workloads"
PYTHON = sys.executable
BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get("CHANGEFLOW_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def progress(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- numbers ------------------------------------------------------------------------------------------------


def summary(samples: list[float]) -> dict[str, float]:
    """Median, p95, mean and count of timings in seconds, reported in milliseconds."""
    if not samples:
        return {"n": 0, "median_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan")}
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(samples), "median_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000,
            "mean_ms": statistics.fmean(ordered) * 1000}


def calibration_ms() -> float:
    """A fixed pure-Python workload, best of 5 (about 60 ms on this machine kind when it is quiet).

    The machine is shared: when its neighbours are busy everything runs slower. Recording this next to the
    figures says how fast the machine was while they were taken."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        sum(number * number for number in range(1_000_000))
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    model = models[0] if models else "unknown CPU"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "commit": commit + ("+uncommitted" if dirty.strip() else ""),
    }


# -- databases ----------------------------------------------------------------------------------------------


def fresh_sqlite(name: str) -> str:
    RUNS.mkdir(parents=True, exist_ok=True)
    path = RUNS / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def sqlite_size(url: str) -> int:
    """The database file's size once the write-ahead log is folded into it (growth is counted in pages)."""
    path = Path(make_url(url).database)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return path.stat().st_size


@contextmanager
def fresh_postgres(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database for one run, dropped afterwards."""
    admin_url = make_url(POSTGRES_URL)
    name = f"changeflow_bench_{prefix}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_size(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return int(size)


def postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - whatever the reason, the PostgreSQL variants cannot run
        return False


# -- the server ---------------------------------------------------------------------------------------------


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CHANGEFLOW_DATABASE_URL": database_url,
        "CHANGEFLOW_TIMER_THREAD": "0",
        "CHANGEFLOW_DEMO_USERS": "0",
        "CHANGEFLOW_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def create_user(database_url: str, username: str, *grants: str) -> str:
    """Migrate the database and create a user through the CLI; return the user's token.

    Only ``flask migrate`` (and the servers' start-up) changes the schema: ``users create`` does not.
    """
    subprocess.run([str(BIN / "flask"), "--app", "app", "migrate"], cwd=ROOT, env=server_env(database_url),
                   capture_output=True, text=True, check=True)
    arguments = [str(BIN / "flask"), "--app", "app", "users", "create", username]
    for grant in grants:
        arguments += ["--role", grant]
    done = subprocess.run(arguments, cwd=ROOT, env=server_env(database_url), capture_output=True, text=True,
                          check=True)
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVERS = ("gunicorn", "granian")


def available_servers() -> list[str]:
    """gunicorn always (a dependency); granian when installed (``pip install -e '.[bench]'``)."""
    return [name for name in SERVERS if (BIN / name).exists()]


class Server:
    """The app behind a real HTTP server: gunicorn with threaded workers, the way production runs it, or
    granian (a Rust HTTP server with a WSGI interface), to show what the HTTP layer itself costs."""

    def __init__(self, database_url: str, *, workers: int = 1, threads: int = 4, kind: str = "gunicorn",
                 **env: str) -> None:
        self.port = free_port()
        self.database_url = database_url
        if kind == "gunicorn":
            command = [str(BIN / "gunicorn"), "--workers", str(workers), "--worker-class", "gthread",
                       "--threads", str(threads), "--bind", f"127.0.0.1:{self.port}", "--keep-alive", "30",
                       "app:create_app()"]
        else:
            command = [str(BIN / "granian"), "--interface", "wsgi", "--workers", str(workers),
                       "--blocking-threads", "1", "--host", "127.0.0.1", "--port", str(self.port),
                       "--factory", "app:create_app"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=server_env(database_url, **env),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.process.stderr.read()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not become ready")

    def pids(self) -> list[int]:
        """The server and every process under it (gunicorn's workers, their script workers)."""
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
            queue.extend(int(child) for child in children.split())
        return found

    def cpu_seconds(self) -> float:
        """User plus system CPU the server's processes have used so far, from the kernel's counters
        (``/proc/PID/stat``): steadier than wall time on a shared machine, and the client is not in it."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            total += int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15 of stat
        return total / ticks

    def peak_rss_mb(self) -> float:
        """The largest peak resident set among the server's processes (each worker is one server)."""
        peaks = []
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
            except OSError:
                continue
        return max(peaks) if peaks else float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


# -- the client ---------------------------------------------------------------------------------------------


@dataclass
class Client:
    """A keep-alive JSON client that times every call by label."""

    port: int
    token: str
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def __post_init__(self) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def call(self, label: str, method: str, path: str, body: Any = None, *,
             content_type: str = "application/json") -> tuple[int, Any, dict[str, str]]:
        payload = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        headers = {"Authorization": f"Bearer {self.token}", "Connection": "keep-alive"}
        if payload is not None:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=payload, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.connection.request(method, path, body=payload, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        self.timings[label].append(time.perf_counter() - started)
        self.statuses[response.status] += 1
        data = json.loads(raw) if raw else None
        return response.status, data, dict(response.getheaders())

    def ok(self, label: str, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        status, data, _headers = self.call(label, method, path, body, **kwargs)
        if status >= 300:
            raise RuntimeError(f"{method} {path} answered {status}: {data}")
        return data

    def close(self) -> None:
        self.connection.close()


def deploy_workload(client: Client, key: str, diagram: str, *, practice: str = "bench",
                    forms_file: str = "forms.json") -> None:
    forms = json.loads((WORKLOADS / forms_file).read_text())
    client.ok("deploy", "POST", f"/api/process-models/{key}/versions",
              {"bpmn": (WORKLOADS / diagram).read_text(), "practice": practice, "forms": forms})
