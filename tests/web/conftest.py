"""Fixtures for the web pages: the test app's people with passwords, and a signed-in browser-like client."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import pytest

from roles import accounts
from tests.api.support import Http

PASSWORD = "correct horse battery"
H1 = re.compile(r"<h1[\s>]")


@dataclass
class Page:
    """A response as a person sees it."""

    response: Any

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def text(self) -> str:
        return self.response.get_data(as_text=True)

    @property
    def location(self) -> str | None:
        return self.response.headers.get("Location")

    def errors(self) -> list[str]:
        """The inline field errors on the page."""
        return [html.unescape(m) for m in re.findall(r'<p class="error"[^>]*>([^<]*)</p>', self.text)]

    def flashes(self) -> list[str]:
        found = re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', self.text, re.S)
        return [html.unescape(re.sub(r"\s+", " ", message).strip()) for message in found]


class WebClient:
    """A Flask test client that signs in with a password and sends the session's CSRF token with each post."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()

    def get(self, path: str, **kwargs: Any) -> Page:
        return self._page(self.client.get(path, **kwargs))

    @staticmethod
    def _page(response: Any) -> Page:
        response.get_data()  # read it all, then close it (static files are streamed from an open file)
        response.close()
        return Page(response)

    def csrf(self) -> str:
        with self.client.session_transaction() as session:
            token = session.get("csrf")
        if token is None:
            self.get("/sign-in")
            return self.csrf()
        return token

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Page:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf())
        return self._page(self.client.post(path, data=form, **kwargs))

    def sign_in(self, username: str, password: str = PASSWORD) -> Page:
        return self.post("/sign-in", {"username": username, "password": password})


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with minimal cost: these tests check the flows, not the hash's strength (tests/roles does)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def passwords(app: Any, people: Any) -> str:
    """Give every test user the password ``PASSWORD``; add 'change-lead' (practitioner and manager of change)."""
    cf = app.extensions["changeflow"]
    with cf.database.transaction() as session:
        lead = accounts.create_user(session, "change-lead", now=cf.now(), display_name="Lee the lead")
        for role in ("practitioner", "manager"):
            accounts.grant(session, lead, role, "change", granted_by="test", now=cf.now())
        for user in accounts.list_users(session, limit=100)[0]:
            accounts.set_password(session, user, PASSWORD, now=cf.now())
    return PASSWORD


@pytest.fixture
def browser(app: Any, passwords: str) -> Any:
    """``browser(username)``: a client signed in as that user (``browser(None)`` stays anonymous)."""

    def make(username: str | None) -> WebClient:
        client = WebClient(app)
        if username is not None:
            page = client.sign_in(username)
            assert page.status == 302, page.text
        return client

    return make


@pytest.fixture
def http(client: Any, people: Any) -> Http:
    return Http(client, people)
