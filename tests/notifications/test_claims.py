"""Several workers share the outbox and the deliveries: on PostgreSQL each claims rows the others hold not
(``FOR UPDATE SKIP LOCKED``); a claimed delivery is leased, and claimable again only when its lease ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import Database
from notifications.models import Delivery, OutboxEntry
from notifications.store import NotificationStore

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def deliveries(database: Database, count: int) -> None:
    with database.transaction() as session:
        for number in range(count):
            session.add(Delivery(idempotency_key=f"cf-claim-{number}", kind="task.ready", channel="email",
                                 address="a@example.com", message={}, status="pending", attempts=0,
                                 next_attempt_at=NOW, created_at=NOW))
            session.add(OutboxEntry(kind="task.ready", actor="x", payload={}, created_at=NOW))


@pytest.mark.postgres
def test_two_workers_claim_disjoint_rows_at_the_same_time(database, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: there is no 'at the same time' to test")
    deliveries(database, 10)
    with database.transaction() as first, database.transaction() as second:
        mine = NotificationStore(first).claim_deliveries(NOW, timedelta(minutes=2), 6)
        theirs = NotificationStore(second).claim_deliveries(NOW, timedelta(minutes=2), 6)
        assert len(mine) == 6 and len(theirs) == 4
        assert not {row.id for row in mine} & {row.id for row in theirs}
        entries = NotificationStore(first).claim_outbox(7)
        others = NotificationStore(second).claim_outbox(7)
        assert len(entries) == 7 and len(others) == 3
        assert not {row.id for row in entries} & {row.id for row in others}


def test_a_claimed_delivery_comes_back_when_its_lease_ends(database):
    deliveries(database, 3)
    lease = timedelta(minutes=2)
    with database.transaction() as session:
        claimed = NotificationStore(session).claim_deliveries(NOW, lease, 10)
        assert [row.attempts for row in claimed] == [1, 1, 1]
    with database.transaction() as session:
        assert NotificationStore(session).claim_deliveries(NOW + lease - timedelta(seconds=1), lease, 10) == []
    with database.transaction() as session:
        again = NotificationStore(session).claim_deliveries(NOW + lease, lease, 10)
        assert [row.attempts for row in again] == [2, 2, 2]
