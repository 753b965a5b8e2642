"""Fixtures for the notification tests: the app's notifier, emails for the test people, a real SMTP server
(aiosmtpd) and a real HTTP receiver on localhost, both started by the tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from notifications import EXTENSION, NotificationSettings, Notifier, SmtpSettings
from roles.models import User
from tests.api.support import Http
from tests.live_server import free_port


@pytest.fixture
def http(client: Any, people: Any) -> Http:
    return Http(client, people)


@pytest.fixture
def notifier(app: Any) -> Iterator[Notifier]:
    """The app's notifier, with settings a test may change (``configure``); restored afterwards."""
    found: Notifier = app.extensions[EXTENSION]
    settings = found.settings
    yield found
    configure(found, settings)


def configure(notifier: Notifier, settings: NotificationSettings) -> None:
    notifier.settings = notifier.deliverer.settings = settings
    notifier.outbox.due_soon = settings.due_soon


@pytest.fixture
def with_emails(app: Any, people: Any) -> None:
    """Every test user gets an email address: ``<username>@example.com``."""
    with app.extensions["changeflow"].database.transaction() as session:
        session.execute(update(User).values(email=User.username + "@example.com"))


# -- a real SMTP server ------------------------------------------------------------------------------------


@dataclass
class Inbox:
    """What the SMTP server received, in order."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    delay: float = 0.0  # seconds each message takes to accept (a slow server, to kill a worker mid-batch)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def keys(self) -> list[str]:
        with self.lock:
            return [message["X-Changeflow-Idempotency-Key"] for message in self.messages]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp(notifier: Notifier, smtp_server: tuple[Inbox, int]) -> Inbox:
    """The notifier sends to a real SMTP server on localhost; returns what it received."""
    inbox, port = smtp_server
    configure(notifier, replace(notifier.settings, smtp=SmtpSettings("127.0.0.1", port, security="none")))
    return inbox


# -- a real HTTP receiver ----------------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """An HTTP server that records each POST and answers with the next status of ``answers`` (then 200)."""

    url: str
    requests: list[Received]
    answers: list[int]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    requests: list[Received] = []
    answers: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = answers.pop(0) if answers else 200
            requests.append(Received(dict(self.headers.items()), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            """Say nothing: the tests read what was received, and a line per request would bury their output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", requests, answers)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def subscribe(http: Http) -> Callable[..., dict[str, Any]]:
    """Subscribe a URL to kinds of event as the admin, over the API; returns the answer (with the secret)."""

    def run(url: str, *kinds: str) -> dict[str, Any]:
        response = http.post("/api/webhooks", "admin", {"url": url, "kinds": list(kinds or ["*"])})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return run
