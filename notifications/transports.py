"""How a message leaves: SMTP, the development mailbox, or an HTTP POST to a webhook."""

from __future__ import annotations

import base64
import hashlib
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from email.header import Header
from email.utils import formatdate
from typing import Protocol

from engine.database import Database
from notifications.models import DevMail
from notifications.settings import SmtpSettings
from notifications.signing import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "Changeflow-Event"


class DeliveryFailed(Exception):
    """The receiving end refused or did not answer; the delivery is retried later."""


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, html: str, key: str) -> None: ...

    def close(self) -> None: ...


class SmtpMailer:
    """Sends over one SMTP connection, opened on the first message and kept for the batch."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        connection: smtplib.SMTP
        if s.security == "tls":
            connection = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                connection.starttls(context=ssl.create_default_context())
        if s.user:
            connection.login(s.user, s.password or "")
        return connection

    def send(self, to: str, subject: str, text: str, html: str, key: str) -> None:
        mail = mime_message(self.settings.sender, to, subject, text, html, key)
        try:
            if self._connection is None:
                self._connection = self._connect()
            self._connection.sendmail(self.settings.sender, [to], mail)
        except (smtplib.SMTPException, OSError) as error:
            self.close()  # a broken connection is not reused
            raise DeliveryFailed(f"SMTP {self.settings.host}:{self.settings.port}: {error}") from error

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                self._connection.close()
            self._connection = None


def mime_message(sender: str, to: str, subject: str, text: str, html: str, key: str) -> bytes:
    """A multipart/alternative mail (text and HTML, UTF-8, base64), written out directly: the email package's
    message objects cost 3 ms a mail on a busy core, more than sending it to a local server."""
    boundary = "=_changeflow_" + hashlib.sha256(key.encode()).hexdigest()[:24]
    headers = [
        ("From", sender), ("To", to), ("Subject", _header(subject)), ("Date", formatdate(usegmt=True)),
        # The same key on every attempt: a mail sent twice after a crash carries the same Message-ID too.
        ("Message-ID", f"<{key}@changeflow>"), ("X-Changeflow-Idempotency-Key", key), ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    lines = [f"{name}: {_single_line(value)}" for name, value in headers]
    for subtype, body in (("plain", text), ("html", html)):
        lines += ["", f"--{boundary}", f'Content-Type: text/{subtype}; charset="utf-8"',
                  "Content-Transfer-Encoding: base64", "",
                  base64.encodebytes(body.encode()).decode("ascii").rstrip("\n").replace("\n", "\r\n")]
    lines += ["", f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


def _single_line(value: str) -> str:
    return " ".join(value.splitlines())  # no header may smuggle in another one


def _header(value: str) -> str:
    """A header value in ASCII: RFC 2047 encoded words when it holds anything else."""
    return value if value.isascii() else Header(_single_line(value), "utf-8").encode()


class DevMailbox:
    """No SMTP server configured: keep each mail in the database (shown to admins at /admin/mail) and log it."""

    def __init__(self, database: Database, now: Callable[[], datetime]) -> None:
        self.database = database
        self.now = now

    def send(self, to: str, subject: str, text: str, html: str, key: str) -> None:
        with self.database.transaction() as session:
            session.add(DevMail(idempotency_key=key, to=to, subject=subject, text=text, html=html,
                                created_at=self.now()))
        log.info("mail kept in the development mailbox (no CHANGEFLOW_SMTP_HOST): to %s: %s", to, subject)

    def close(self) -> None:
        """Nothing to close: the development mailbox writes each mail in its own transaction."""


def post_webhook(url: str, body: str, secret: str, key: str, kind: str, *, timeout: float) -> None:
    """POST a signed delivery; anything but a 2xx answer is a failure to retry."""
    data = body.encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "Changeflow-Webhooks/1",
        SIGNATURE_HEADER: sign(secret, data, int(time.time())), IDEMPOTENCY_HEADER: key, EVENT_HEADER: kind,
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (admins choose URLs)
            response.read(1024)
    except urllib.error.HTTPError as error:
        raise DeliveryFailed(f"{url} answered {error.code}") from error
    except (urllib.error.URLError, OSError) as error:
        raise DeliveryFailed(f"{url}: {getattr(error, 'reason', error)}") from error
