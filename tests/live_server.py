"""``python app.py`` as a separate process on a free port, for tests that need the real server."""

from __future__ import annotations

import contextlib
import os
import re
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


class Server:
    """``python app.py`` in a subprocess; its output is collected line by line."""

    def __init__(self, database_url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "CHANGEFLOW_PORT": str(self.port), "CHANGEFLOW_DATABASE_URL": database_url,
                       "CHANGEFLOW_TIMER_INTERVAL": "0.2", "CHANGEFLOW_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
        for name in ("CHANGEFLOW_DEMO_USERS", "CHANGEFLOW_TIMER_THREAD"):
            environment.pop(name, None)
        self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=environment,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

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

    def stop(self) -> int:
        self.process.terminate()
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=30)
        self._reader.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code
