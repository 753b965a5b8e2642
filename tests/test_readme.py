"""The README's walk-through is true: its curl block runs, unchanged, against a real server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.live_server import ROOT, Server

README = ROOT / "README.md"


def walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S)
    assert match, "README.md lost its walk-through markers"
    return match.group(1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``python app.py`` on a fresh SQLite file; yields its API URL and the demo users' tokens."""
    running = Server(f"sqlite:///{tmp_path / 'changeflow.db'}")
    try:
        tokens = running.wait_until_healthy()
        yield f"{running.base}/api", tokens
    finally:
        running.stop()


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("jq") is None,
                    reason="the README walk-through needs curl and jq")
def test_the_readme_walkthrough_closes_a_normal_change(server: tuple[str, dict[str, str]]) -> None:
    api, tokens = server
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
