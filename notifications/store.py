"""Every query on the notification tables (and the reads of people and roles that fan-out needs)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from notifications.models import (
    Delivery,
    DevMail,
    DueAlarm,
    Notice,
    OutboxEntry,
    PendingTask,
    Preference,
    WebhookSubscription,
)
from roles.models import RoleAssignment, User

ALL_PRACTICES = "*"


class DeliveryStatus:
    """The states of a delivery (plain strings in the table)."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True)
class Person:
    username: str
    email: str | None
    display_name: str | None


class NotificationStore:
    """The notification queries, bound to one session (one transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.is_postgres = session.get_bind().dialect.name == "postgresql"

    def _locked(self, statement: Select[Any]) -> Select[Any]:
        """Rows no other worker holds: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL. SQLite runs one writer at a
        time (our writers take the write lock at ``BEGIN``), so a plain read there is already exclusive."""
        return statement.with_for_update(skip_locked=True) if self.is_postgres else statement

    # -- the outbox --------------------------------------------------------------------------------

    def claim_outbox(self, limit: int) -> list[OutboxEntry]:
        statement = (select(OutboxEntry).where(OutboxEntry.fanned_out_at.is_(None))
                     .order_by(OutboxEntry.id).limit(limit))
        return list(self.session.scalars(self._locked(statement)))

    def claim_due_alarms(self, now: datetime, limit: int) -> list[DueAlarm]:
        statement = select(DueAlarm).where(DueAlarm.at <= now).order_by(DueAlarm.at).limit(limit)
        return list(self.session.scalars(self._locked(statement)))

    def pending_tasks(self, instance_id: int) -> list[PendingTask]:
        """The instance's tasks whose opening nobody has been told of yet (see ``PendingTask``)."""
        statement = select(PendingTask).where(PendingTask.instance_id == instance_id).order_by(PendingTask.created_at,
                                                                                               PendingTask.task_id)
        return list(self.session.scalars(statement))

    def delete(self, row: Any) -> None:
        self.session.delete(row)

    def add(self, row: Any) -> None:
        self.session.add(row)

    # -- people ------------------------------------------------------------------------------------

    def holders(self, roles: Sequence[str], practice: str | None) -> list[Person]:
        """Active users holding one of ``roles`` in ``practice`` (or in every practice)."""
        practices = [ALL_PRACTICES] if practice is None else [practice, ALL_PRACTICES]
        statement = (select(User.username, User.email, User.display_name)
                     .join(RoleAssignment, RoleAssignment.user_id == User.id)
                     .where(RoleAssignment.role.in_(roles), RoleAssignment.practice.in_(practices),
                            User.is_active.is_(True))
                     .distinct().order_by(User.username))
        return [Person(*row) for row in self.session.execute(statement)]

    def people(self, usernames: Iterable[str]) -> list[Person]:
        names = sorted(set(usernames))
        if not names:
            return []
        statement = (select(User.username, User.email, User.display_name)
                     .where(User.username.in_(names), User.is_active.is_(True)).order_by(User.username))
        return [Person(*row) for row in self.session.execute(statement)]

    def preferences(self, usernames: Iterable[str]) -> dict[str, Preference]:
        names = list(set(usernames))
        if not names:
            return {}
        rows = self.session.scalars(select(Preference).where(Preference.username.in_(names)))
        return {row.username: row for row in rows}

    def preference(self, username: str) -> Preference | None:
        return self.session.get(Preference, username)

    # -- webhooks ----------------------------------------------------------------------------------

    def subscriptions(self, *, active_only: bool = False) -> list[WebhookSubscription]:
        statement = select(WebhookSubscription).order_by(WebhookSubscription.id)
        if active_only:
            statement = statement.where(WebhookSubscription.active.is_(True))
        return list(self.session.scalars(statement))

    def subscription(self, subscription_id: int) -> WebhookSubscription | None:
        return self.session.get(WebhookSubscription, subscription_id)

    def secrets_of(self, subscription_ids: Iterable[int]) -> dict[int, WebhookSubscription]:
        ids = list(set(subscription_ids))
        if not ids:
            return {}
        rows = self.session.scalars(select(WebhookSubscription).where(WebhookSubscription.id.in_(ids)))
        return {row.id: row for row in rows}

    # -- deliveries --------------------------------------------------------------------------------

    def claim_deliveries(self, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
        """Due pending deliveries, leased to this worker until ``now + lease``: another worker sees them again
        only if this one has not finished with them by then (it died)."""
        statement = (select(Delivery).where(Delivery.status == DeliveryStatus.PENDING,
                                            Delivery.next_attempt_at <= now)
                     .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit))
        rows = list(self.session.scalars(self._locked(statement)))
        for row in rows:
            row.next_attempt_at = now + lease
            row.attempts += 1
        return rows

    def settle(self, delivery_id: int, *, status: str, now: datetime, next_attempt_at: datetime | None = None,
               error: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == DeliveryStatus.SENT:
            values["sent_at"] = now
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        self.session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))

    def mark_sent(self, delivery_ids: Sequence[int], now: datetime) -> None:
        """Record many deliveries as sent, in one statement (the common outcome, so the one to make cheap)."""
        if delivery_ids:
            self.session.execute(update(Delivery).where(Delivery.id.in_(list(delivery_ids)))
                                 .values(status=DeliveryStatus.SENT, sent_at=now, last_error=None))

    def dead_letters(self, offset: int, limit: int) -> tuple[list[Delivery], int]:
        statement = select(Delivery).where(Delivery.status == DeliveryStatus.DEAD)
        total = self.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
        rows = self.session.scalars(statement.order_by(Delivery.id.desc()).offset(offset).limit(limit))
        return list(rows), total

    def delivery(self, delivery_id: int, *, lock: bool = False) -> Delivery | None:
        statement = select(Delivery).where(Delivery.id == delivery_id)
        if lock and self.is_postgres:
            statement = statement.with_for_update()
        return self.session.scalars(statement).first()

    def deliveries_of(self, outbox_id: int) -> list[Delivery]:
        return list(self.session.scalars(select(Delivery).where(Delivery.outbox_id == outbox_id)
                                         .order_by(Delivery.id)))

    # -- in-app notices ----------------------------------------------------------------------------

    def notices(self, username: str, *, unread_only: bool, offset: int, limit: int) -> tuple[list[Notice], int]:
        statement = select(Notice).where(Notice.username == username)
        if unread_only:
            statement = statement.where(Notice.read_at.is_(None))
        total = self.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
        rows = self.session.scalars(statement.order_by(Notice.id.desc()).offset(offset).limit(limit))
        return list(rows), total

    def unread_count(self, username: str) -> int:
        statement = select(func.count()).where(Notice.username == username, Notice.read_at.is_(None))
        return self.session.scalar(statement) or 0

    def notice(self, notice_id: int) -> Notice | None:
        return self.session.get(Notice, notice_id)

    def mark_all_read(self, username: str, now: datetime) -> int:
        result = self.session.execute(update(Notice).where(Notice.username == username, Notice.read_at.is_(None))
                                      .values(read_at=now))
        return int(getattr(result, "rowcount", 0) or 0)

    # -- daily digests -----------------------------------------------------------------------------

    def digest_due(self, before: datetime, limit: int) -> list[Preference]:
        """People who chose a digest and have had none since ``before``."""
        statement = (select(Preference).where(Preference.digest.is_(True),
                                              or_(Preference.last_digest_at.is_(None),
                                                  Preference.last_digest_at <= before))
                     .order_by(Preference.username).limit(limit))
        return list(self.session.scalars(self._locked(statement)))

    def undigested(self, username: str, limit: int) -> list[Notice]:
        statement = (select(Notice).where(and_(Notice.username == username, Notice.digested_at.is_(None)))
                     .order_by(Notice.id).limit(limit))
        return list(self.session.scalars(statement))

    # -- the development mailbox -------------------------------------------------------------------

    def dev_mails(self, offset: int, limit: int) -> tuple[list[DevMail], int]:
        total = self.session.scalar(select(func.count()).select_from(DevMail)) or 0
        rows = self.session.scalars(select(DevMail).order_by(DevMail.id.desc()).offset(offset).limit(limit))
        return list(rows), total

    def forget_dev_mails(self) -> None:
        self.session.execute(delete(DevMail))
