"""The README's walk-through is true: its curl block runs, unchanged, against a real server."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S)
    assert match, "README.md lost its walk-through markers"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``python app.py`` on a fresh SQLite file and a free port; yields its API URL and the demo tokens."""
    port = free_port()
    env = {**os.environ, "CHANGEFLOW_PORT": str(port), "CHANGEFLOW_TIMER_INTERVAL": "0.2",
           "CHANGEFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'changeflow.db'}", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    tokens: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                pytest.fail(f"the server exited early with {process.wait()}")
            found = re.match(r"^\s+(\S+)\s+\S+\s+(cf_\S+)$", line)
            if found:
                tokens[found.group(1)] = found.group(2)
            if "is serving on" in line:
                break
        api = f"http://127.0.0.1:{port}/api"
        _wait_healthy(f"http://127.0.0.1:{port}/healthz")
        yield api, tokens
    finally:
        process.terminate()
        process.wait(15)
        process.stdout.close()


def _wait_healthy(url: str) -> None:
    for _ in range(100):
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail("the server never answered /healthz")


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("jq") is None,
                    reason="the README walk-through needs curl and jq")
def test_the_readme_walkthrough_closes_a_normal_change(server: tuple[str, dict[str, str]]) -> None:
    api, tokens = server
    assert {"change-practitioner", "change-manager", "admin"} <= tokens.keys(), tokens
    env = {**os.environ, "API": api, "PRACTITIONER": tokens["change-practitioner"],
           "MANAGER": tokens["change-manager"]}
    done = subprocess.run(["bash", "-c", walkthrough()], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # The trail it printed, and the instance as the API sees it afterwards.
    types = [line.split()[-1] for line in done.stdout.splitlines() if re.match(r"^\d{4}-\d\d-\d\dT", line)]
    assert types == ["started", "completed", "completed", "timer_fired", "completed", "completed",
                     "instance_completed"]
    headers = {"Authorization": f"Bearer {tokens['change-manager']}"}
    [instance] = requests.get(f"{api}/instances", headers=headers, timeout=5).json()
    assert instance["status"] == "completed"
    assert instance["business_key"] == "CHG-000001"
    assert instance["data"]["risk"] == "low"
    assert instance["data"]["authorized"] is True
    assert instance["data"]["closure_code"] == "successful"
    assert instance["tasks"] == []
