"""The browser tests' switches: a skip that says why, on purpose or for a missing Chromium, and a failure
instead of a skip when CI requires them."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def run_browser_tests(**environment: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environment}
    for name in ("CHANGEFLOW_BROWSER_TESTS", "CHANGEFLOW_REQUIRE_BROWSER", "CHANGEFLOW_CHROMIUM"):
        if name not in environment:
            env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "pytest", "tests/browser", "-q", "-rs", "-p", "no:cacheprovider"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_they_skip_on_purpose_and_say_so():
    done = run_browser_tests(CHANGEFLOW_BROWSER_TESTS="0")

    assert done.returncode == 0, done.stdout
    assert "skipped on purpose (CHANGEFLOW_BROWSER_TESTS=0)" in done.stdout


def test_without_chromium_they_skip_and_say_what_is_missing():
    done = run_browser_tests(CHANGEFLOW_CHROMIUM="/nonexistent/chromium")

    assert done.returncode == 0, done.stdout
    assert "Chromium is not installed (apt-get install chromium" in done.stdout


def test_when_required_a_missing_chromium_fails():
    done = run_browser_tests(CHANGEFLOW_CHROMIUM="/nonexistent/chromium", CHANGEFLOW_REQUIRE_BROWSER="1")

    assert done.returncode == 1, done.stdout
    assert "browser tests are required (CHANGEFLOW_REQUIRE_BROWSER=1)" in done.stdout
