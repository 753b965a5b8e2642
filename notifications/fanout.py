"""From an outbox entry to what is sent: in-app notices, emails and webhook calls, in one transaction.

An entry is fanned out exactly once (the transaction that writes its deliveries marks it), and every delivery
gets an idempotency key made of the entry's id, the channel and the target: a delivery sent twice after a
crash carries the same key both times, so a receiver can drop the second.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.states import TaskStatus
from engine.store import Store
from notifications.kinds import ALL_KINDS, Kind
from notifications.messages import Message, describe
from notifications.models import Delivery, DueAlarm, Notice, OutboxEntry, WebhookSubscription
from notifications.outbox import task_fields
from notifications.settings import NotificationSettings
from notifications.store import DeliveryStatus, NotificationStore, Person

ACTORS = ("manager", "owner")  # who an escalation or an incident goes to: they can act on the practice


def recipients(store: NotificationStore, entry: OutboxEntry, kind: Kind) -> list[Person]:
    """Who hears of an entry. Never the person who caused it: they know."""
    payload = entry.payload
    assignee = payload.get("assignee")
    if kind is Kind.TASK_ASSIGNED:
        people = store.people([assignee] if assignee else [])
    elif kind is Kind.TASK_READY or kind in (Kind.TASK_DUE_SOON, Kind.TASK_OVERDUE):
        people = store.people([assignee]) if assignee else store.holders([payload.get("role") or ""],
                                                                        entry.practice)
    elif kind is Kind.ESCALATION:
        people = escalation_audience(store, entry)
    elif kind is Kind.INCIDENT:
        people = store.holders(ACTORS, entry.practice)
    elif kind in (Kind.CHANGE_AUTHORIZED, Kind.CHANGE_REJECTED):
        people = store.people([payload["started_by"]] if payload.get("started_by") else [])
    else:  # releases: the requester, and the release's managers and owners
        requester = store.people([payload["started_by"]] if payload.get("started_by") else [])
        unique = {person.username: person for person in [*requester, *store.holders(ACTORS, entry.practice)]}
        people = sorted(unique.values(), key=lambda person: person.username)
    return [person for person in people if person.username != entry.actor]


def escalation_audience(store: NotificationStore, entry: OutboxEntry) -> list[Person]:
    """The managers and owners of the practice who are not the late ones: not the task's holder, and not the late
    role itself (a manager's late task goes to the owners; an owner's to the managers), unless nobody else is
    left. They may reassign the task or chase it."""
    late_role, holder = entry.payload.get("role"), entry.payload.get("assignee")
    others = [role for role in ACTORS if role != late_role]
    for roles in (others, list(ACTORS)):
        people = [person for person in store.holders(roles, entry.practice) if person.username != holder]
        if people:
            return people
    return []


def fan_out(store: NotificationStore, entries: Sequence[OutboxEntry], settings: NotificationSettings,
            now: datetime) -> int:
    """Write the notices and deliveries of ``entries`` and mark them fanned out; return how many deliveries."""
    subscriptions = store.subscriptions(active_only=True) if entries else []
    count = 0
    for entry in entries:
        count += _fan_out_one(store, entry, subscriptions, settings, now)
        entry.fanned_out_at = now
    return count


def _fan_out_one(store: NotificationStore, entry: OutboxEntry, subscriptions: list[WebhookSubscription],
                 settings: NotificationSettings, now: datetime) -> int:
    kind = Kind(entry.kind)
    message = describe(kind, entry.business_key, entry.practice, entry.task_id, entry.payload, entry.actor)
    people = recipients(store, entry, kind)
    preferences = store.preferences(person.username for person in people)
    count = 0
    for person in people:
        preference = preferences.get(person.username)
        if preference is not None and kind.value in preference.muted:
            continue
        store.add(Notice(username=person.username, outbox_id=entry.id, kind=kind.value, subject=message.subject,
                         body="\n".join(line for line in message.lines if line), link=message.link,
                         created_at=now))
        if person.email and not (preference is not None and preference.digest):
            store.add(_delivery(entry, kind, "email", person.username, person.email, now,
                                message.email(settings.base_url, person.display_name or person.username),
                                recipient=person.username))
            count += 1
    for subscription in subscriptions:
        if kind.value in subscription.kinds or ALL_KINDS in subscription.kinds:
            body = webhook_body(entry, kind, message, settings)
            store.add(_delivery(entry, kind, "webhook", str(subscription.id), subscription.url, now,
                                {"body": json.dumps(body, separators=(",", ":"), sort_keys=True)},
                                subscription_id=subscription.id))
            count += 1
    return count


def webhook_body(entry: OutboxEntry, kind: Kind, message: Message, settings: NotificationSettings) -> dict[str, Any]:
    """The JSON a webhook receives: the event's id (its idempotency key's stem), type, time and data."""
    return {"id": f"evt-{entry.id}", "type": kind.value, "created_at": entry.created_at.isoformat(),
            "business_key": entry.business_key, "practice": entry.practice, "instance_id": entry.instance_id,
            "task_id": entry.task_id, "actor": entry.actor, "subject": message.subject,
            "url": settings.base_url + message.link, "data": entry.payload}


def _delivery(entry: OutboxEntry, kind: Kind, channel: str, target: str, address: str, now: datetime,
              message: dict[str, Any], *, recipient: str | None = None,
              subscription_id: int | None = None) -> Delivery:
    return Delivery(idempotency_key=f"cf-{entry.id}-{channel}-{target}", outbox_id=entry.id, kind=kind.value,
                    channel=channel, recipient=recipient, address=address, subscription_id=subscription_id,
                    message=message, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now,
                    created_at=now)


HELD_ALARM_RECHECK = timedelta(minutes=5)  # how often a held alarm (its instance suspended) is looked at again


def ring_alarms(store: NotificationStore, engine_store: Store, alarms: Sequence[DueAlarm], now: datetime) -> int:
    """Turn due alarms of tasks still open into outbox entries; forget every alarm handled.

    The alarm of a task whose instance is suspended or stopped by an incident waits: nobody can act on it now, and
    the warning is still due once the instance is resumed or retried (it is looked at again every
    ``HELD_ALARM_RECHECK``). A due-soon warning that comes after the due time is dropped: the overdue one says more.
    """
    rung = 0
    for alarm in alarms:
        task = engine_store.get_task(alarm.task_id)
        if task is not None and task.status is TaskStatus.SUSPENDED:
            alarm.at = now + HELD_ALARM_RECHECK
            continue
        late_warning = (alarm.kind == Kind.TASK_DUE_SOON.value and task is not None and task.due_at is not None
                        and task.due_at <= now)
        if task is not None and task.status is TaskStatus.OPEN and not late_warning:
            store.add(OutboxEntry(kind=alarm.kind, practice=task.practice, instance_id=task.instance_id,
                                  business_key=task.business_key, task_id=task.id, actor="system",
                                  payload=task_fields(task), created_at=now))
            rung += 1
        store.delete(alarm)
    return rung
