"""Delivery to real receivers on localhost: an SMTP server (aiosmtpd) and an HTTP server. Retries with backoff,
dead letters admins replay, signatures a receiver verifies as docs/notifications.md says."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from notifications import SIGNATURE_HEADER, SignatureInvalid, verify
from notifications.models import Delivery, WebhookSubscription
from tests.api.support import assert_problem
from tests.notifications.conftest import configure


def deliveries(app: Any) -> list[Delivery]:
    with app.extensions["changeflow"].database.snapshot() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_mail_goes_to_a_real_smtp_server_with_text_html_and_the_link(app, http, clock, shipped, notifier,
                                                                     with_emails, smtp):
    change = http.start_change(clock)
    notifier.run_pass()

    [mail] = smtp.messages
    task_url = f"http://127.0.0.1:5000/tasks/{change['tasks'][0]['id']}"
    assert mail["To"] == "change-manager@example.com"
    assert mail["Subject"] == f"{change['business_key']}: 'Assess change' is ready for managers"
    [delivery] = deliveries(app)
    assert mail["X-Changeflow-Idempotency-Key"] == delivery.idempotency_key
    assert mail["Message-ID"] == f"<{delivery.idempotency_key}@changeflow>"
    text, html = [part.get_payload(decode=True).decode() for part in mail.walk() if not part.is_multipart()]
    assert task_url in text and "Hello change-manager," in text
    assert f'<a href="{task_url}">' in html
    assert delivery.status == "sent" and delivery.attempts == 1


def test_an_unreachable_smtp_server_is_retried_with_backoff(app, http, clock, shipped, notifier, with_emails):
    from notifications import SmtpSettings

    configure(notifier, replace(notifier.settings, smtp=SmtpSettings("127.0.0.1", 1, security="none")))
    http.start_change(clock)
    notifier.run_pass()
    [delivery] = deliveries(app)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert "SMTP 127.0.0.1:1" in (delivery.last_error or "")
    clock.advance(timedelta(seconds=31))
    notifier.run_pass()
    [delivery] = deliveries(app)
    assert delivery.attempts == 2 and delivery.next_attempt_at == clock.now() + timedelta(seconds=60)


def test_a_webhook_answering_500_then_200_gets_the_delivery_once_it_answers_200(
        app, http, clock, shipped, notifier, receiver, subscribe):
    subscription = subscribe(receiver.url, "task.ready")
    receiver.answers.extend([500])
    change = http.start_change(clock)

    notifier.run_pass()
    assert [request.answered for request in receiver.requests] == [500]
    [delivery] = deliveries(app)
    assert delivery.status == "pending" and "answered 500" in (delivery.last_error or "")

    notifier.run_pass()  # not due yet: backoff
    assert len(receiver.requests) == 1
    clock.advance(timedelta(seconds=31))
    notifier.run_pass()
    assert [request.answered for request in receiver.requests] == [500, 200]
    first, second = receiver.requests
    assert first.body == second.body  # the same event, the same key
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == delivery.idempotency_key
    body = json.loads(second.body)
    assert body["type"] == "task.ready" and body["business_key"] == change["business_key"]
    assert body["url"] == f"http://127.0.0.1:5000/tasks/{change['tasks'][0]['id']}"
    assert second.headers["Changeflow-Event"] == "task.ready"
    # The documented verification accepts it with the secret shown at creation...
    verify(subscription["secret"], second.headers[SIGNATURE_HEADER], second.body)
    [delivery] = deliveries(app)
    assert delivery.status == "sent" and delivery.attempts == 2


def test_a_wrong_signature_is_caught_by_the_documented_verification(app, http, clock, shipped, notifier, receiver,
                                                                    subscribe):
    subscription = subscribe(receiver.url)
    http.start_change(clock)
    notifier.run_pass()
    [request] = receiver.requests
    header, body = request.headers[SIGNATURE_HEADER], request.body
    assert verify(subscription["secret"], header, body) > 0
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify("whsec_not-the-secret", header, body)
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify(subscription["secret"], header, body.replace(b"task.ready", b"task.ready "))
    with pytest.raises(SignatureInvalid, match="s old"):
        verify(subscription["secret"], header, body, now=float(header.split(",")[0][2:]) + 301)
    with pytest.raises(SignatureInvalid, match="lacks"):
        verify(subscription["secret"], "v1=abc", body)


def test_the_secret_is_stored_encrypted(app, http, subscribe, receiver):
    subscription = subscribe(receiver.url)
    with app.extensions["changeflow"].database.snapshot() as session:
        row = session.scalars(select(WebhookSubscription)).one()
    assert subscription["secret"] not in row.secret_encrypted
    assert "secret" not in http.get("/api/webhooks", "admin").get_json()[0]


def test_what_fails_every_attempt_is_a_dead_letter_the_admin_replays(app, http, clock, shipped, notifier, receiver,
                                                                     subscribe):
    configure(notifier, replace(notifier.settings, max_attempts=2))
    subscribe(receiver.url, "task.ready")
    receiver.answers.extend([503, 503])
    http.start_change(clock)
    notifier.run_pass()
    clock.advance(timedelta(minutes=5))
    notifier.run_pass()
    [dead] = http.get("/api/dead-letters", "admin").get_json()
    assert (dead["status"], dead["attempts"], dead["channel"]) == ("dead", 2, "webhook")
    assert "answered 503" in dead["last_error"]
    clock.advance(timedelta(days=1))
    notifier.run_pass()
    assert len(receiver.requests) == 2  # dead letters are not retried by themselves

    assert_problem(http.post(f"/api/dead-letters/{dead['id']}/replay", "change-owner"), 403)
    replayed = http.post(f"/api/dead-letters/{dead['id']}/replay", "admin")
    assert replayed.status_code == 200, replayed.get_json()
    assert (replayed.get_json()["status"], replayed.get_json()["attempts"]) == ("pending", 0)
    assert_problem(http.post(f"/api/dead-letters/{dead['id']}/replay", "admin"), 409)
    notifier.run_pass()
    assert [request.answered for request in receiver.requests] == [503, 503, 200]
    assert http.get("/api/dead-letters", "admin").get_json() == []
    assert receiver.requests[2].headers["Idempotency-Key"] == dead["idempotency_key"]


def test_webhook_subscriptions_are_checked(http):
    response = http.post("/api/webhooks", "admin", {"url": "ftp://example.com/x", "kinds": ["task.ready"]})
    body = assert_problem(response, 422)
    assert "url" in body["errors"]
    response = http.post("/api/webhooks", "admin", {"url": "https://example.com/x", "kinds": ["task.exploded"]})
    assert "kinds.0" in assert_problem(response, 422)["errors"]
    assert_problem(http.delete("/api/webhooks/999", "admin"), 404)


def test_a_daily_digest_replaces_one_mail_per_event(app, http, clock, shipped, notifier, with_emails, smtp):
    response = http.call("PUT", "/api/notification-preferences", "change-manager",
                         json={"kinds": ["task.ready", "escalation"], "digest": True})
    assert response.get_json() == {"kinds": ["task.ready", "escalation"], "digest": True}
    first = http.start_change(clock)
    notifier.run_pass()
    # The first pass mails a digest at once (none was ever sent), then one a day.
    assert [mail["Subject"] for mail in smtp.messages] == ["Changeflow: 1 notification today"]
    second = http.start_change(clock)
    third = http.start_change(clock)
    notifier.run_pass()
    assert len(smtp.messages) == 1
    clock.advance(timedelta(days=1, minutes=1))
    notifier.run_pass()
    digest = smtp.messages[1]
    assert digest["Subject"] == "Changeflow: 2 notifications today"
    text = next(part for part in digest.walk() if part.get_content_type() == "text/plain").get_payload(decode=True)
    assert second["business_key"].encode() in text and third["business_key"].encode() in text
    assert first["business_key"].encode() not in text
    assert len(http.get("/api/notifications", "change-manager").get_json()) == 3  # the app shows each one
