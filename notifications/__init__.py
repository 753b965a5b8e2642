"""Notifications: email, webhooks and in-app notices, written to an outbox in the transaction of the command
that caused them and delivered by the worker, at least once, with an idempotency key (docs/notifications.md).

The engine knows nothing of this package: ``Notifier.attach`` registers its outbox writer as one of the
engine's command listeners.
"""

from __future__ import annotations

from notifications.commands import (
    CreateWebhook,
    DeleteWebhook,
    DeliveryView,
    MarkNoticeRead,
    NoticeView,
    PreferenceView,
    ReplayDelivery,
    SetPreferences,
    WebhookView,
    new_webhook_secret,
)
from notifications.kinds import ALL_KINDS, Kind
from notifications.service import EXTENSION, Notifier, PassReport
from notifications.settings import NotificationSettings, SmtpSettings, from_environment
from notifications.signing import SIGNATURE_HEADER, SignatureInvalid, sign, verify

__all__ = [
    "ALL_KINDS", "EXTENSION", "CreateWebhook", "DeleteWebhook", "DeliveryView", "Kind", "MarkNoticeRead", "NoticeView",
    "NotificationSettings", "Notifier", "PassReport", "PreferenceView", "ReplayDelivery", "SIGNATURE_HEADER",
    "SetPreferences", "SignatureInvalid", "SmtpSettings", "WebhookView", "from_environment", "new_webhook_secret",
    "sign", "verify",
]
