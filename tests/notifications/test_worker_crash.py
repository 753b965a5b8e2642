"""A worker killed with SIGKILL in the middle of a delivery batch loses nothing: another worker sends the rest once
the dead one's lease ends, and only the messages in flight at the kill (sent, not yet recorded) go out twice,
with the same key."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from engine import Database
from notifications.models import Delivery
from tests.live_server import ROOT, Process

MESSAGES = 60
pytestmark = pytest.mark.slow


def worker(database_url: str, smtp_port: int) -> Process:
    environment = {**os.environ, "CHANGEFLOW_DATABASE_URL": database_url, "CHANGEFLOW_SMTP_HOST": "127.0.0.1",
                   "CHANGEFLOW_SMTP_PORT": str(smtp_port), "CHANGEFLOW_SMTP_SECURITY": "none",
                   "CHANGEFLOW_NOTIFY_LEASE_SECONDS": "2", "CHANGEFLOW_NOTIFY_INTERVAL": "0.1",
                   "CHANGEFLOW_SECRET_KEY": "test", "CHANGEFLOW_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    for name in ("CHANGEFLOW_MIGRATE", "CHANGEFLOW_DEPLOY_BPMN", "CHANGEFLOW_TIMER_THREAD"):
        environment.pop(name, None)
    return Process([sys.executable, "-m", "flask", "--app", str(ROOT / "app"), "worker"], environment)


def statuses(database: Database) -> Counter[str]:
    with database.snapshot() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return Counter({status: count for status, count in rows})


def wait_for(condition, what: str, process: Process, timeout: float = 60.0) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}:\n{process.output()[-3000:]}")
        time.sleep(0.02)


def test_sigkill_mid_batch_loses_nothing_and_resends_only_what_was_in_flight(database_url, smtp_server):
    inbox, port = smtp_server
    inbox.delay = 0.03  # a slow server: the batch takes long enough to be killed in the middle
    database = Database(database_url)
    now = datetime.now(UTC)
    with database.transaction() as session:
        for number in range(MESSAGES):
            session.add(Delivery(idempotency_key=f"cf-test-{number}", kind="task.ready", channel="email",
                                 recipient="someone", address=f"person{number}@example.com",
                                 message={"subject": f"message {number}", "text": "text", "html": "<p>html</p>"},
                                 status="pending", attempts=0, next_attempt_at=now, created_at=now))
    first = worker(database_url, port)
    try:
        wait_for(lambda: len(inbox.messages) >= 15, "the first worker to send part of the batch", first)
    finally:
        first.kill9()
    time.sleep(inbox.delay * 5)  # a message the server was still taking in when the worker died
    received_before_kill = set(inbox.keys())
    with database.snapshot() as session:
        unrecorded = set(session.scalars(select(Delivery.idempotency_key).where(Delivery.status == "pending")))
    assert unrecorded and len(received_before_kill) < MESSAGES
    in_flight = received_before_kill & unrecorded  # sent, but the worker died before recording it

    second = worker(database_url, port)
    try:
        wait_for(lambda: statuses(database).get("sent", 0) == MESSAGES, "every delivery to be sent", second)
    finally:
        second.stop()
        database.dispose()

    keys = Counter(inbox.keys())
    assert set(keys) == {f"cf-test-{number}" for number in range(MESSAGES)}  # nothing lost
    twice = {key for key, count in keys.items() if count > 1}
    assert twice == in_flight  # only what was in flight went out twice (a handful: the senders' last messages)...
    assert len(in_flight) <= 8 and all(keys[key] == 2 for key in twice)
    message_ids = {message["Message-ID"] for message in inbox.messages
                   if message["X-Changeflow-Idempotency-Key"] in twice}
    assert len(message_ids) == len(twice)  # ...and it carries the same key (and Message-ID) both times
