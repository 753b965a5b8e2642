"""Real servers and timer workers for the fault tier: the embedded server, gunicorn, ``flask worker``.

The database is migrated, deployed and given users by the test process first, so that every server and
worker only serves (none of them races to migrate), and so that any of them can be killed and restarted.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tests.live_server import Process, free_port

ROOT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE = 120.0
USERS = {
    "admin": [("admin", "*")],
    "change-owner": [("owner", "change")],
    "change-manager": [("manager", "change")],
    "change-practitioner": [("practitioner", "change")],
}


def prepare_database(url: str) -> dict[str, str]:
    """Migrate ``url``, deploy the shipped diagrams, create the users above; return their tokens."""
    from app import create_app
    from roles import accounts

    app = create_app({"CHANGEFLOW_DATABASE_URL": url, "CHANGEFLOW_MIGRATE": True, "CHANGEFLOW_DEPLOY_BPMN": True,
                      "CHANGEFLOW_DEMO_USERS": False, "CHANGEFLOW_TIMER_THREAD": False,
                      "CHANGEFLOW_LOG_LEVEL": "WARNING"})
    cf = app.extensions["changeflow"]
    tokens = {}
    with cf.database.transaction() as session:
        for username, grants in USERS.items():
            user = accounts.create_user(session, username, now=cf.now())
            for role, practice in grants:
                accounts.grant(session, user, role, practice, granted_by="test", now=cf.now())
            _row, tokens[username] = accounts.issue_token(session, user, now=cf.now())
    cf.database.dispose()
    return tokens


def _environment(url: str, **extra: str) -> dict[str, str]:
    environment = {**os.environ, "CHANGEFLOW_DATABASE_URL": url, "CHANGEFLOW_MIGRATE": "0",
                   "CHANGEFLOW_DEPLOY_BPMN": "0", "CHANGEFLOW_DEMO_USERS": "0", "CHANGEFLOW_LOG_LEVEL": "INFO",
                   "CHANGEFLOW_SCRIPT_TIME_LIMIT": "1.0", "CHANGEFLOW_TIMER_INTERVAL": "0.2",
                   "PYTHONUNBUFFERED": "1", **extra}
    return environment


class Server(Process):
    """The embedded server (``python app.py``) or gunicorn, on a free port."""

    def __init__(self, url: str, kind: str, **extra: str) -> None:
        self.kind = kind
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        if kind == "embedded":
            args = [sys.executable, "app.py"]
            environment = _environment(url, CHANGEFLOW_PORT=str(self.port), CHANGEFLOW_TIMER_THREAD="1", **extra)
        else:
            args = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread", "--threads",
                    "4", "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "5", "app:create_app()"]
            environment = _environment(url, CHANGEFLOW_TIMER_THREAD="0", **extra)
        super().__init__(args, environment)

    def wait_until_healthy(self) -> Server:
        give_up = time.monotonic() + STARTUP_DEADLINE
        while time.monotonic() < give_up:
            if not self.alive:
                raise AssertionError(f"the {self.kind} server exited with {self.process.returncode}:\n"
                                     f"{self.output()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        raise AssertionError(f"the {self.kind} server did not answer /healthz in time:\n{self.output()}")


def timer_worker(url: str) -> Process:
    """``flask --app app worker``, firing due timers every 0.1 s."""
    return Process([sys.executable, "-m", "flask", "--app", "app", "worker", "--interval", "0.1"], _environment(url))


class Api:
    """Requests as the users above; ``base`` may change when a server is restarted."""

    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.base = base
        self.tokens = tokens

    def call(self, method: str, path: str, user: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        if "data" in kwargs and isinstance(kwargs["data"], str):
            headers["Content-Type"] = "application/xml"
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=60, **kwargs)

    def ok(self, method: str, path: str, user: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, user, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text[:2000])
        return response.json()

    def wait_for(self, instance_id: int, predicate: Any, *, deadline: float = 60.0) -> dict[str, Any]:
        """Poll the instance until ``predicate(instance)`` holds."""
        give_up = time.monotonic() + deadline
        while True:
            instance = self.ok("GET", f"/api/instances/{instance_id}", "admin")
            if predicate(instance):
                return instance
            if time.monotonic() > give_up:
                raise AssertionError(f"instance {instance_id} did not get there in {deadline} s: {instance}")
            time.sleep(0.1)
