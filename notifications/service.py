"""Notifications, wired: the outbox listener on the engine, the worker's passes, and the reads the API and the
web app show (notices, preferences, webhooks, dead letters, the development mailbox)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.executor import Engine
from engine.store import PageRequest, Store
from notifications.commands import DeliveryView, NoticeView, PreferenceView, WebhookView
from notifications.delivery import Deliverer
from notifications.fanout import fan_out, ring_alarms
from notifications.messages import digest_email
from notifications.models import Delivery, DevMail
from notifications.outbox import OutboxWriter
from notifications.secret_box import SecretBox
from notifications.settings import NotificationSettings
from notifications.store import DeliveryStatus, NotificationStore
from notifications.transports import DevMailbox, Mailer, SmtpMailer

log = logging.getLogger(__name__)
EXTENSION = "changeflow.notifications"  # where the app keeps its Notifier
FAN_OUT_BATCH = 200
DIGEST_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class PassReport:
    alarms: int = 0
    fanned_out: int = 0
    digests: int = 0
    delivered: int = 0  # deliveries claimed and tried

    @property
    def busy(self) -> bool:
        return bool(self.alarms or self.fanned_out or self.digests or self.delivered)


class Notifier:
    """Everything notifications do at run time, for one app (or one worker process)."""

    def __init__(self, engine: Engine, settings: NotificationSettings, app_secret: str) -> None:
        self.engine = engine
        self.database = engine.database
        self.settings = settings
        self.box = SecretBox(app_secret)
        self.outbox = OutboxWriter(due_soon=settings.due_soon)
        self.deliverer = Deliverer(self.database, self.now, settings, self.box, self._mailer)

    def now(self) -> datetime:
        return self.engine.clock.now()  # the engine's clock as it is now (tests swap in a fake one)

    def attach(self) -> None:
        """Write outbox rows in every command's transaction from now on."""
        self.engine.listen(self.outbox)

    def _mailer(self) -> Mailer:
        if self.settings.smtp is None:
            return DevMailbox(self.database, self.now)
        return SmtpMailer(self.settings.smtp)

    # -- the worker --------------------------------------------------------------------------------

    def run_pass(self) -> PassReport:
        """Ring due alarms, fan out the outbox, mail digests, then send until nothing is due."""
        alarms = self._ring_alarms()
        fanned = 0
        while True:
            count = self._fan_out()
            fanned += count
            if count < FAN_OUT_BATCH:
                break
        digests = self._digests()
        delivered = 0
        while True:
            claimed = self.deliverer.deliver_due()
            delivered += claimed
            if claimed < self.settings.batch:
                break
        return PassReport(alarms, fanned, digests, delivered)

    def _ring_alarms(self) -> int:
        now = self.now()
        with self.database.transaction() as session:
            store = NotificationStore(session)
            return ring_alarms(store, Store(session), store.claim_due_alarms(now, 500), now)

    def _fan_out(self) -> int:
        now = self.now()
        with self.database.transaction() as session:
            store = NotificationStore(session)
            entries = store.claim_outbox(FAN_OUT_BATCH)
            fan_out(store, entries, self.settings, now)
            return len(entries)

    def _digests(self) -> int:
        """One mail a day to each person who chose digests, listing what they were notified of since."""
        now = self.now()
        sent = 0
        with self.database.transaction() as session:
            store = NotificationStore(session)
            for preference in store.digest_due(now - DIGEST_EVERY, 100):
                preference.last_digest_at = now
                notices = store.undigested(preference.username, 200)
                people = store.people([preference.username])
                if not notices or not people or not people[0].email:
                    continue
                person = people[0]
                for notice in notices:
                    notice.digested_at = now
                message = digest_email(self.settings.base_url, person.display_name or person.username,
                                       [(n.subject, n.body.split("\n", 1)[0], n.link) for n in notices])
                store.add(Delivery(idempotency_key=f"cf-digest-{person.username}-{now:%Y%m%dT%H%M}",
                                   outbox_id=None, kind="digest", channel="email", recipient=person.username,
                                   address=person.email, message=message, status=DeliveryStatus.PENDING,
                                   attempts=0, next_attempt_at=now, created_at=now))
                sent += 1
        return sent

    def run_loop(self, stop: threading.Event, *, interval: float | None = None) -> None:
        """Pass after pass until ``stop`` is set; a busy pass is followed at once by the next."""
        wait = self.settings.interval if interval is None else interval
        while not stop.is_set():
            try:
                report = self.run_pass()
                if report.busy:
                    log.debug("notification pass: %s", report)
                    continue
            except Exception:
                log.exception("the notification pass failed; retrying in %.1f s", wait)
            stop.wait(wait)

    def start_thread(self) -> threading.Thread:
        """The embedded server's notification worker, in a daemon thread beside the timer thread."""
        thread = threading.Thread(target=self.run_loop, args=(threading.Event(),), name="changeflow-notifications",
                                  daemon=True)
        thread.start()
        return thread

    # -- what the API and the web app show ---------------------------------------------------------

    def notices(self, username: str, page: PageRequest, *, unread_only: bool = False) -> tuple[list[NoticeView], int]:
        with self.database.snapshot() as session:
            rows, total = NotificationStore(session).notices(username, unread_only=unread_only,
                                                             offset=page.offset, limit=page.per_page)
            return [NoticeView.of(row) for row in rows], total

    def unread_count(self, username: str) -> int:
        with self.database.snapshot() as session:
            return NotificationStore(session).unread_count(username)

    def preferences(self, username: str) -> PreferenceView:
        with self.database.snapshot() as session:
            return PreferenceView.of(username, NotificationStore(session).preference(username))

    def webhooks(self) -> list[WebhookView]:
        with self.database.snapshot() as session:
            return [WebhookView.of(row) for row in NotificationStore(session).subscriptions()]

    def dead_letters(self, page: PageRequest) -> tuple[list[DeliveryView], int]:
        with self.database.snapshot() as session:
            rows, total = NotificationStore(session).dead_letters(page.offset, page.per_page)
            return [DeliveryView.of(row) for row in rows], total

    def dev_mails(self, page: PageRequest) -> tuple[list[DevMail], int]:
        with self.database.snapshot() as session:
            return NotificationStore(session).dev_mails(page.offset, page.per_page)
