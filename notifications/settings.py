"""How notifications are delivered: read once from the environment (or a test's configuration)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

SMTP_SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class SmtpSettings:
    """An SMTP server. ``security``: ``starttls`` (upgrade a plain connection), ``tls`` (TLS from the first
    byte, usually port 465) or ``none`` (a relay on localhost)."""

    host: str
    port: int = 587
    security: str = "starttls"
    user: str | None = None
    password: str | None = None
    sender: str = "changeflow@localhost"
    timeout: float = 10.0


@dataclass(frozen=True)
class NotificationSettings:
    base_url: str = "http://127.0.0.1:5000"  # links in mails point here
    smtp: SmtpSettings | None = None  # None: mail is kept in the development mailbox (/admin/mail) and logged
    due_soon: timedelta = timedelta(hours=4)
    max_attempts: int = 8  # then the delivery is dead: admins see it in the dead letters and may replay it
    first_retry: timedelta = timedelta(seconds=30)  # doubled on each failure...
    longest_retry: timedelta = timedelta(hours=1)  # ...up to this
    lease: timedelta = timedelta(minutes=2)  # a claimed delivery is claimable again after this (its worker died)
    batch: int = 100  # deliveries claimed at once
    senders: int = 4  # connections sending a batch in parallel
    webhook_timeout: float = 10.0
    interval: float = 1.0  # seconds between worker passes

    def retry_delay(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failure: exponential backoff, capped."""
        delay: timedelta = self.first_retry * (2 ** max(0, attempts - 1))
        return min(delay, self.longest_retry)


def from_environment(environ: Mapping[str, str]) -> NotificationSettings:
    """Settings from ``CHANGEFLOW_*`` variables; SMTP only when ``CHANGEFLOW_SMTP_HOST`` is set."""
    smtp = None
    host = environ.get("CHANGEFLOW_SMTP_HOST", "").strip()
    if host:
        security = environ.get("CHANGEFLOW_SMTP_SECURITY", "starttls").strip().lower()
        if security not in SMTP_SECURITY:
            raise ValueError(f"CHANGEFLOW_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}, not {security!r}")
        default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
        smtp = SmtpSettings(host=host, port=int(environ.get("CHANGEFLOW_SMTP_PORT") or default_port),
                            security=security, user=environ.get("CHANGEFLOW_SMTP_USER") or None,
                            password=environ.get("CHANGEFLOW_SMTP_PASSWORD") or None,
                            sender=environ.get("CHANGEFLOW_SMTP_FROM") or "changeflow@localhost")
    return NotificationSettings(
        base_url=(environ.get("CHANGEFLOW_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        smtp=smtp,
        due_soon=timedelta(hours=float(environ.get("CHANGEFLOW_DUE_SOON_HOURS") or 4)),
        interval=float(environ.get("CHANGEFLOW_NOTIFY_INTERVAL") or 1.0),
        lease=timedelta(seconds=float(environ.get("CHANGEFLOW_NOTIFY_LEASE_SECONDS") or 120)),
    )
