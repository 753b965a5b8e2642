"""How a message leaves: SMTP, the development mailbox, or an HTTP POST to a webhook."""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
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
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = to
        mail["Subject"] = subject
        # The same key on every attempt: a mail sent twice after a crash carries the same Message-ID too.
        mail["Message-ID"] = f"<{key}@changeflow>"
        mail["X-Changeflow-Idempotency-Key"] = key
        mail.set_content(text)
        mail.add_alternative(html, subtype="html")
        try:
            if self._connection is None:
                self._connection = self._connect()
            self._connection.send_message(mail)
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
        pass


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
