"""What people change in notifications, as commands the engine's executor runs (one transaction each):
webhook subscriptions and dead-letter replays (admins; the caller checks the policy), and each person's own
notices and preferences (the command is bound to the caller's username)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from engine.context import CommandContext
from engine.errors import Conflict, InvalidInput, NotFound
from notifications.kinds import ALL_KINDS, Kind
from notifications.models import Delivery, Notice, Preference, WebhookSubscription
from notifications.store import DeliveryStatus, NotificationStore

KNOWN_KINDS = frozenset(kind.value for kind in Kind)


def new_webhook_secret() -> str:
    """A fresh signing secret: 32 random bytes, as text."""
    return "whsec_" + secrets.token_urlsafe(32)


def check_webhook(url: str, kinds: list[str]) -> None:
    """Refuse a URL that is not http(s) with a host, and kinds that do not exist, naming the field."""
    errors: dict[str, list[str]] = {}
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # "http://[" and other URLs urlsplit cannot read, or a port out of range
        usable = False
    if not usable:
        errors["url"] = ["Give an http:// or https:// URL with a host name."]
    unknown = [kind for kind in kinds if kind not in KNOWN_KINDS and kind != ALL_KINDS]
    if not kinds:
        errors["kinds"] = [f"Choose at least one kind: {', '.join(sorted(KNOWN_KINDS))}, or '*' for all."]
    elif unknown:
        errors["kinds"] = [f"Unknown kinds {', '.join(unknown)}; choose from {', '.join(sorted(KNOWN_KINDS))} "
                           "or '*'."]
    if errors:
        raise InvalidInput("The webhook subscription is invalid.", errors)


@dataclass(frozen=True)
class WebhookView:
    id: int
    url: str
    kinds: list[str]
    description: str | None
    active: bool
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookSubscription) -> WebhookView:
        return cls(row.id, row.url, list(row.kinds), row.description, row.active, row.created_by, row.created_at)


@dataclass(frozen=True)
class CreateWebhook:
    """Subscribe a URL to kinds of event. ``sealed_secret`` is the signing secret already encrypted
    (``SecretBox.seal``): the plain secret never reaches the database."""

    url: str
    kinds: tuple[str, ...]
    sealed_secret: str
    description: str | None = None

    def execute(self, ctx: CommandContext) -> WebhookView:
        check_webhook(self.url, list(self.kinds))
        row = WebhookSubscription(url=self.url, kinds=sorted(set(self.kinds)), secret_encrypted=self.sealed_secret,
                                  description=self.description, active=True, created_by=ctx.actor,
                                  created_at=ctx.now)
        ctx.session.add(row)
        ctx.session.flush()
        return WebhookView.of(row)


@dataclass(frozen=True)
class DeleteWebhook:
    """Remove a subscription. Its pending deliveries fail (and dead-letter) since nothing can sign them."""

    subscription_id: int

    def execute(self, ctx: CommandContext) -> None:
        row = NotificationStore(ctx.session).subscription(self.subscription_id)
        if row is None:
            raise NotFound(f"There is no webhook subscription {self.subscription_id}.")
        ctx.session.delete(row)


@dataclass(frozen=True)
class DeliveryView:
    id: int
    idempotency_key: str
    kind: str
    channel: str
    recipient: str | None
    address: str
    subject: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: Delivery) -> DeliveryView:
        subject = row.message.get("subject") if row.channel == "email" else None
        return cls(row.id, row.idempotency_key, row.kind, row.channel, row.recipient, row.address, subject,
                   row.status, row.attempts, row.last_error, row.created_at, row.next_attempt_at, row.sent_at)


@dataclass(frozen=True)
class ReplayDelivery:
    """Send a dead letter again from scratch (same idempotency key, attempts reset)."""

    delivery_id: int

    def execute(self, ctx: CommandContext) -> DeliveryView:
        row = NotificationStore(ctx.session).delivery(self.delivery_id, lock=True)
        if row is None:
            raise NotFound(f"There is no delivery {self.delivery_id}.")
        if row.status != DeliveryStatus.DEAD:
            raise Conflict(f"Delivery {self.delivery_id} is {row.status}; only dead letters can be replayed.",
                           status=row.status)
        row.status, row.attempts, row.next_attempt_at = DeliveryStatus.PENDING, 0, ctx.now
        return DeliveryView.of(row)


@dataclass(frozen=True)
class NoticeView:
    id: int
    kind: str
    subject: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, row: Notice) -> NoticeView:
        return cls(row.id, row.kind, row.subject, row.body, row.link, row.created_at, row.read_at)


@dataclass(frozen=True)
class MarkNoticeRead:
    """Mark one of your notices read (``notice_id``), or all of them (None). Returns how many changed."""

    username: str
    notice_id: int | None = None

    def execute(self, ctx: CommandContext) -> int:
        store = NotificationStore(ctx.session)
        if self.notice_id is None:
            return store.mark_all_read(self.username, ctx.now)
        row = store.notice(self.notice_id)
        if row is None or row.username != self.username:  # someone else's notice does not exist for you
            raise NotFound(f"You have no notification {self.notice_id}.")
        if row.read_at is not None:
            return 0
        row.read_at = ctx.now
        return 1


@dataclass(frozen=True)
class PreferenceView:
    username: str
    kinds: list[str]  # what they hear about
    digest: bool

    @classmethod
    def of(cls, username: str, row: Preference | None) -> PreferenceView:
        muted = set(row.muted) if row is not None else set()
        return cls(username, [kind.value for kind in Kind if kind.value not in muted],
                   bool(row.digest) if row is not None else False)


@dataclass(frozen=True)
class SetPreferences:
    """Which kinds a person hears about (in the app and by mail), and whether mail comes as a daily digest."""

    username: str
    kinds: tuple[str, ...]
    digest: bool

    def execute(self, ctx: CommandContext) -> PreferenceView:
        unknown = [kind for kind in self.kinds if kind not in KNOWN_KINDS]
        if unknown:
            raise InvalidInput("Unknown notification kinds.",
                               {"kinds": [f"Unknown kinds {', '.join(unknown)}; choose from "
                                          f"{', '.join(sorted(KNOWN_KINDS))}."]})
        store = NotificationStore(ctx.session)
        row = store.preference(self.username)
        muted = sorted(KNOWN_KINDS - set(self.kinds))
        if row is None:
            row = Preference(username=self.username, muted=muted, digest=self.digest, updated_at=ctx.now)
            ctx.session.add(row)
        else:
            row.muted, row.digest, row.updated_at = muted, self.digest, ctx.now
        return PreferenceView.of(self.username, row)


def plain(view: Any) -> dict[str, Any]:
    """A view as a dict, for schemas and templates."""
    return dict(view.__dict__)
