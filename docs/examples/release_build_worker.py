"""An external-task worker for the release process's "Build release" step (topic ``release-build``).

Run it next to your CI: it fetches and locks build tasks, runs the build command for each, and completes the
task with the ``release/build`` form's fields. A failed build is reported with the retries left; when none
are left, the release stops with an incident that a release manager can retry.

    CHANGEFLOW_URL=http://127.0.0.1:5000 CHANGEFLOW_TOKEN=cf_... \\
    BUILD_COMMAND="make release" python docs/examples/release_build_worker.py

The token must be a user's who holds the practitioner role in the release practice (the lane of the task).
Only the standard library is used, so the file can be copied anywhere.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

TOPIC = "release-build"
LOCK_MS = 15 * 60 * 1000  # longer than a build; extend-lock exists for builds that run longer
RETRIES = 3
RETRY_TIMEOUT_MS = 60 * 1000

Post = Callable[[str, dict[str, Any]], tuple[int, Any]]


class BuildFailed(Exception):
    """The build command failed; the message is what the release manager will read."""


def http_post(base_url: str, token: str) -> Post:
    """POST JSON to the Changeflow API; returns (status, decoded body)."""

    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        request = urllib.request.Request(f"{base_url}{path}", data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:  # problems are application/problem+json
            return error.code, json.load(error)

    return post


class Worker:
    """Fetch-and-lock, then complete or report a failure, for one topic."""

    def __init__(self, post: Post, worker_id: str, topic: str = TOPIC) -> None:
        self.post = post
        self.worker_id = worker_id
        self.topic = topic

    def run_once(self, handle: Callable[[dict[str, Any]], dict[str, Any]], max_tasks: int = 5) -> int:
        """Work every task one fetch hands out; returns how many were fetched."""
        status, tasks = self.post("/api/external-tasks/fetch-and-lock", {
            "worker_id": self.worker_id, "max_tasks": max_tasks,
            "topics": [{"topic": self.topic, "lock_duration": LOCK_MS}]})
        if status != 200:
            raise RuntimeError(f"fetch-and-lock answered {status}: {tasks.get('detail')}")
        for task in tasks:
            self._work(task, handle)
        return len(tasks)

    def _work(self, task: dict[str, Any], handle: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        path = f"/api/external-tasks/{task['id']}"
        try:
            variables = handle(task)
        except BuildFailed as failure:
            retries = (task["retries"] if task["retries"] is not None else RETRIES) - 1
            self.post(f"{path}/failure", {"worker_id": self.worker_id, "error_message": str(failure)[:2000],
                                          "retries": max(retries, 0), "retry_timeout": RETRY_TIMEOUT_MS})
            return
        status, body = self.post(f"{path}/complete", {"worker_id": self.worker_id, "variables": variables})
        if status != 200:  # 409: the lock was lost to another worker; 422: the variables do not fit the form
            print(f"{task['business_key']}: completion refused ({status}): {body.get('detail')}", file=sys.stderr)

    def run_forever(self, handle: Callable[[dict[str, Any]], dict[str, Any]], idle_seconds: float = 5.0) -> None:
        while True:
            if self.run_once(handle) == 0:
                time.sleep(idle_seconds)


def build(task: dict[str, Any]) -> dict[str, Any]:
    """Run BUILD_COMMAND for the release; the answer fills the release/build form."""
    command = os.environ.get("BUILD_COMMAND", "true")
    version = f"{task['business_key']}-build"
    result = subprocess.run(shlex.split(command), capture_output=True, text=True,
                            env={**os.environ, "RELEASE": task["business_key"]})
    if result.returncode != 0:
        raise BuildFailed(f"'{command}' exited with {result.returncode}: {result.stderr.strip()[-500:]}")
    return {"build_version": version, "build_notes": result.stdout.strip()[-1000:] or None}


if __name__ == "__main__":
    worker = Worker(http_post(os.environ.get("CHANGEFLOW_URL", "http://127.0.0.1:5000"),
                              os.environ["CHANGEFLOW_TOKEN"]), worker_id=f"build-{socket.gethostname()}")
    worker.run_forever(build)
