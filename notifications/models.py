"""The notification tables: the outbox, its deliveries, in-app notices, preferences, webhooks, the dev mailbox.

Only ``notifications.store`` queries them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy_utc import UtcDateTime

from engine.models import JsonDocument
from engine.models import metadata as engine_metadata

# The engine's naming convention and JSON type: one schema, one style, though the tables are ours.
metadata = MetaData(naming_convention=engine_metadata.naming_convention)


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonDocument, list[str]: JsonDocument}


class OutboxEntry(Base):
    """Something happened that may notify people: written in the transaction of the command that caused it.

    The worker fans it out once (``fanned_out_at``) into in-app notices and deliveries, in one transaction.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (
        Index("ix_notification_outbox_pending", "id", postgresql_where=text("fanned_out_at IS NULL"),
              sqlite_where=text("fanned_out_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    practice: Mapped[str | None] = mapped_column(String(50))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(String(50))
    task_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    fanned_out_at: Mapped[datetime | None]


class Delivery(Base):
    """One message to send (an email or a webhook call), at least once, under its idempotency key.

    A worker claims it by moving ``next_attempt_at`` past the time it needs to send it (a lease): a worker
    that dies leaves it to be claimed again once the lease ends. ``dead`` rows failed every attempt and wait
    for an admin to replay them.
    """

    __tablename__ = "notification_delivery"
    __table_args__ = (
        Index("ix_notification_delivery_due", "next_attempt_at", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        Index("ix_notification_delivery_dead", "id", postgresql_where=text("status = 'dead'"),
              sqlite_where=text("status = 'dead'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))  # "email" or "webhook"
    recipient: Mapped[str | None] = mapped_column(String(100))  # the username an email is for
    address: Mapped[str] = mapped_column(String(2000))  # the email address or the webhook's URL
    subscription_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[dict[str, Any]]  # email: subject, text, html; webhook: body
    status: Mapped[str] = mapped_column(String(20))  # pending, sent, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Notice(Base):
    """An in-app notification for one person."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_unread", "username", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    digested_at: Mapped[datetime | None]  # when a daily digest mailed it (only for people who chose digests)


class Preference(Base):
    """What one person wants to hear about; no row means every kind, one email per event."""

    __tablename__ = "notification_preference"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    muted: Mapped[list[str]]  # kinds they want neither in the app nor by email
    digest: Mapped[bool] = mapped_column(Boolean, default=False)  # one email a day instead of one per event
    last_digest_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class WebhookSubscription(Base):
    """A URL that receives the chosen kinds of event, signed with the subscription's secret.

    The secret is stored encrypted (Fernet, with a key derived from the app's secret key): it must be read
    back to sign, so a hash would not do, and a copy of the database alone does not reveal it.
    """

    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    kinds: Mapped[list[str]]
    secret_encrypted: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class DueAlarm(Base):
    """When to say that a task is due soon or overdue: written as the task opens, fired by the worker."""

    __tablename__ = "notification_due_alarm"
    __table_args__ = (Index("ix_notification_due_alarm_at", "at"),)

    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime]


class PendingTask(Base):
    """A task that opened while its instance could not be worked (suspended, or stopped by an incident): nobody
    has been told of it yet. Announced (``task.ready`` or ``task.assigned``) and forgotten when the instance is
    resumed or retried, so each opening is announced exactly once."""

    __tablename__ = "notification_pending_task"

    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime]


class DevMail(Base):
    """A mail kept instead of sent, when no SMTP server is configured (the embedded development server)."""

    __tablename__ = "dev_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
