"""``python app.py`` as a separate process on a free port, for tests that need the real server."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEMO_LINE = re.compile(r"^\s+(?P<user>[a-z][a-z-]*)\s+\S+\s+(?P<password>\S+)\s+(?P<token>cf_\S+)$")
STARTUP_DEADLINE = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A child process whose output is collected line by line."""

    def __init__(self, args: list[str], environment: dict[str, str]) -> None:
        self.process = subprocess.Popen(args, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole process group: the server and its children, as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._close()

    def _close(self) -> None:
        self._reader.join(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def stop(self) -> int | None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
                return self.process.returncode
        self._close()
        return self.process.returncode



class Server(Process):
    """``python app.py`` in a subprocess, on a free port, with the demo users it prints."""

    def __init__(self, database_url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        environment = {**os.environ, "CHANGEFLOW_PORT": str(self.port), "CHANGEFLOW_DATABASE_URL": database_url,
                       "CHANGEFLOW_TIMER_INTERVAL": "0.2", "CHANGEFLOW_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
        for name in ("CHANGEFLOW_DEMO_USERS", "CHANGEFLOW_TIMER_THREAD"):
            environment.pop(name, None)
        super().__init__([sys.executable, "app.py"], environment)

    def wait_until_healthy(self) -> dict[str, str]:
        """Wait for /healthz; return the demo users' tokens the server printed on its first start."""
        give_up = time.monotonic() + STARTUP_DEADLINE
        while time.monotonic() < give_up:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.output()}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the server did not answer /healthz in time:\n{self.output()}")
        tokens = {match["user"]: match["token"] for line in list(self.lines) if (match := DEMO_LINE.match(line))}
        self.passwords = {match["user"]: match["password"] for line in list(self.lines)
                          if (match := DEMO_LINE.match(line))}
        assert {"admin", "change-practitioner", "change-manager", "change-owner"} <= tokens.keys(), self.output()
        return tokens
