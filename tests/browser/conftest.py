"""Browser tests: Playwright for Python driving Debian's Chromium against ``python app.py`` on SQLite.

They run when Playwright and Chromium are installed (``apt-get install chromium``; Playwright's own browser
download is not used) and otherwise skip, saying why. CHANGEFLOW_BROWSER_TESTS=0 skips them on purpose;
CHANGEFLOW_REQUIRE_BROWSER=1 (CI) turns every such skip into a failure. CHANGEFLOW_CHROMIUM names another
Chromium binary. With CHANGEFLOW_SCREENSHOTS=docs/images the journeys save screenshots of the main pages
there (``make screenshots``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT
from tests.live_server import Server

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PASSWORD_FOR_NEW_USERS = "a long test password"


def _unavailable(why: str) -> None:
    if os.environ.get("CHANGEFLOW_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required (CHANGEFLOW_REQUIRE_BROWSER=1) but cannot run: {why}")
    pytest.skip(f"browser tests skipped: {why}")


def chromium_path() -> str | None:
    configured = os.environ.get("CHANGEFLOW_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A Chromium browser driven by Playwright, or a skip (a failure in CI) that says what is missing."""
    if os.environ.get("CHANGEFLOW_BROWSER_TESTS") == "0":
        if os.environ.get("CHANGEFLOW_REQUIRE_BROWSER") == "1":
            pytest.fail("CHANGEFLOW_BROWSER_TESTS=0 and CHANGEFLOW_REQUIRE_BROWSER=1 contradict each other")
        pytest.skip("browser tests skipped on purpose (CHANGEFLOW_BROWSER_TESTS=0)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        _unavailable("Chromium is not installed (apt-get install chromium, or set CHANGEFLOW_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception as error:  # noqa: BLE001 - any launch failure means "cannot run here"
            _unavailable(f"Chromium at {executable} did not start: {error}")
        yield browser
        browser.close()


class LiveApp:
    """``python app.py`` on a fresh SQLite database: its URL, and the demo users' passwords and tokens."""

    def __init__(self, server: Server, tokens: dict[str, str]) -> None:
        self.server = server
        self.base = server.base
        self.tokens = tokens
        self.passwords: dict[str, str] = dict(server.passwords)

    def api(self, method: str, path: str, user: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.base}/api{path}", timeout=30,
                                    headers={"Authorization": f"Bearer {self.tokens[user]}"}, **kwargs)
        assert response.status_code < 400, (response.status_code, response.text)
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def live(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    database = tmp_path_factory.mktemp("browser") / "changeflow.db"
    server = Server(f"sqlite:///{database}")
    try:
        tokens = server.wait_until_healthy()
        yield LiveApp(server, tokens)
    finally:
        server.stop()


@pytest.fixture
def new_page(chromium: Any, live: LiveApp) -> Iterator[Any]:
    """``new_page()``: a page in a fresh browser context (its own cookies), closed after the test."""
    contexts = []

    def make() -> Any:
        context = chromium.new_context(base_url=live.base, viewport={"width": 1360, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot of the page as docs/images/NAME.png when CHANGEFLOW_SCREENSHOTS names that folder."""
    folder = os.environ.get("CHANGEFLOW_SCREENSHOTS")
    if folder:
        target = (ROOT / folder) if not Path(folder).is_absolute() else Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target / f"{name}.png"), full_page=True)
