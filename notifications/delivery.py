"""The worker's sending loop: claim due deliveries, send each, record what happened.

Claiming leases a batch (one short transaction); outcomes are recorded as soon as they are known, those that
arrive together in one transaction. A worker killed mid-batch loses nothing: the rows it had not recorded
become claimable again when their lease ends, so only the messages in flight at the kill (sent, not yet
recorded) can go out twice, under the same idempotency key.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.database import Database
from notifications.secret_box import SecretBox, SecretUnreadable
from notifications.settings import NotificationSettings
from notifications.store import DeliveryStatus, NotificationStore
from notifications.transports import DeliveryFailed, Mailer, post_webhook

log = logging.getLogger(__name__)
SETTLE_AT_MOST = 50  # outcomes recorded in one transaction, at most


@dataclass(frozen=True)
class Job:
    id: int
    key: str
    kind: str
    channel: str
    address: str
    message: dict[str, Any]
    attempts: int
    secret: str | None  # webhooks: the subscription's secret, decrypted for this batch only
    problem: str | None  # why it cannot be sent at all (its subscription is gone, its secret unreadable)


class Deliverer:
    def __init__(self, database: Database, now: Callable[[], datetime], settings: NotificationSettings,
                 box: SecretBox, mailer: Callable[[], Mailer]) -> None:
        self.database = database
        self.now = now
        self.settings = settings
        self.box = box
        self.make_mailer = mailer  # a callable returning a fresh Mailer for a batch

    def deliver_due(self) -> int:
        """Send one batch of due deliveries; return how many were claimed (sent or put off).

        ``settings.senders`` threads send in parallel, each over its own connection (a round trip to a mail
        server is mostly waiting). This thread records the outcomes as they come, as many as have come in one
        transaction: what is in flight at any moment is what was sent and not yet recorded, a handful.
        """
        jobs = self._claim()
        if not jobs:
            return 0
        outcomes: queue.SimpleQueue[tuple[Job, str | None]] = queue.SimpleQueue()
        senders = [threading.Thread(target=self._send_all, args=(jobs[index::self.settings.senders], outcomes),
                                    name=f"changeflow-sender-{index}", daemon=True)
                   for index in range(min(self.settings.senders, len(jobs)))]
        for sender in senders:
            sender.start()
        recorded = 0
        while recorded < len(jobs):
            done = [outcomes.get()]
            while len(done) < SETTLE_AT_MOST:
                try:
                    done.append(outcomes.get_nowait())
                except queue.Empty:
                    break
            self._settle(done)
            recorded += len(done)
        for sender in senders:
            sender.join()
        return len(jobs)

    def _send_all(self, jobs: list[Job], outcomes: queue.SimpleQueue[tuple[Job, str | None]]) -> None:
        mailer: Mailer | None = None
        try:
            for job in jobs:
                error: str | None = job.problem
                if error is None:
                    try:
                        if job.channel == "email":
                            mailer = mailer or self.make_mailer()
                            mailer.send(job.address, job.message["subject"], job.message["text"],
                                        job.message["html"], job.key)
                        else:
                            post_webhook(job.address, job.message["body"], job.secret or "", job.key, job.kind,
                                         timeout=self.settings.webhook_timeout)
                    except DeliveryFailed as failure:
                        error = str(failure)
                    except Exception as failure:  # a bug in a transport must not stop the worker
                        log.exception("delivery %s failed unexpectedly", job.key)
                        error = f"{type(failure).__name__}: {failure}"
                outcomes.put((job, error))
        finally:
            if mailer is not None:
                mailer.close()

    def _claim(self) -> list[Job]:
        now = self.now()
        with self.database.transaction() as session:
            store = NotificationStore(session)
            rows = store.claim_deliveries(now, self.settings.lease, self.settings.batch)
            subscriptions = store.secrets_of(row.subscription_id for row in rows if row.subscription_id)
            jobs = []
            for row in rows:
                secret, problem = None, None
                if row.channel == "webhook":
                    subscription = subscriptions.get(row.subscription_id or 0)
                    if subscription is None:
                        problem = "its webhook subscription was deleted"
                    else:
                        try:
                            secret = self.box.open(subscription.secret_encrypted)
                        except SecretUnreadable as error:
                            problem = str(error)
                jobs.append(Job(row.id, row.idempotency_key, row.kind, row.channel, row.address, dict(row.message),
                                row.attempts, secret, problem))
            return jobs

    def _settle(self, done: list[tuple[Job, str | None]]) -> None:
        now = self.now()
        with self.database.transaction() as session:
            store = NotificationStore(session)
            store.mark_sent([job.id for job, error in done if error is None], now)
            for job, error in done:
                if error is None:
                    continue
                if job.attempts >= self.settings.max_attempts:
                    log.warning("delivery %s failed %d times and is now a dead letter: %s", job.key, job.attempts,
                                error)
                    store.settle(job.id, status=DeliveryStatus.DEAD, now=now, error=error[:2000])
                else:
                    retry_at = now + self.settings.retry_delay(job.attempts)
                    log.info("delivery %s failed (attempt %d), retrying at %s: %s", job.key, job.attempts,
                             retry_at.isoformat(), error)
                    store.settle(job.id, status=DeliveryStatus.PENDING, now=now, next_attempt_at=retry_at,
                                 error=error[:2000])
