"""Rows the authorization matrices (API and web) need: a notice for one person, a dead letter, a webhook."""

from __future__ import annotations

import itertools
from typing import Any

from notifications.models import Delivery, Notice, WebhookSubscription

NOTICE_OWNER = "change-manager"
_numbers = itertools.count(1)


def _add(engine: Any, row: Any) -> int:
    with engine.database.transaction() as session:
        session.add(row)
        session.flush()
        return int(row.id)


def a_notice(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    """An unread notice of change-manager's."""
    return {"notice_id": _add(engine, Notice(username=NOTICE_OWNER, kind="task.ready", subject="A task is ready",
                                             body="Assess it.", link="/", created_at=clock.now()))}


def a_dead_letter(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    key = f"cf-matrix-{next(_numbers)}"
    return {"delivery_id": _add(engine, Delivery(
        idempotency_key=key, kind="task.ready", channel="email", recipient=NOTICE_OWNER,
        address="someone@example.com", message={"subject": "s", "text": "t", "html": "h"}, status="dead",
        attempts=8, next_attempt_at=clock.now(), last_error="550 no such user", created_at=clock.now()))}


def a_webhook(http: Any, clock: Any, engine: Any) -> dict[str, Any]:
    return {"subscription_id": _add(engine, WebhookSubscription(
        url="http://127.0.0.1:9/hook", kinds=["*"], secret_encrypted="unreadable", active=True, created_by="admin",
        created_at=clock.now()))}
