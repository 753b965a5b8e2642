"""The notification pages: the list with its unread count in the navigation, preferences, and the admins' webhooks,
dead letters and development mailbox."""

from __future__ import annotations

import pytest

from notifications import EXTENSION
from tests.notifications.support import a_dead_letter
from tests.web.conftest import WebClient

pytestmark = [pytest.mark.sqlite_only, pytest.mark.usefixtures("shipped", "passwords")]


def signed_in(app, username: str) -> WebClient:
    client = WebClient(app)
    assert client.sign_in(username).status == 302
    return client


def test_notifications_show_with_an_unread_count_and_open_their_page(app, http, clock):
    change = http.start_change(clock)
    app.extensions[EXTENSION].run_pass()
    manager = signed_in(app, "change-manager")

    page = manager.get("/notifications")
    assert page.status == 200
    assert 'aria-label="1 unread"' in page.text
    assert f"{change['business_key']}: &#39;Assess change&#39; is ready for managers" in page.text
    notice_id = http.get("/api/notifications", "change-manager").get_json()[0]["id"]
    opened = manager.post(f"/notifications/{notice_id}/read", {"next": f"/tasks/{change['tasks'][0]['id']}"})
    assert (opened.status, opened.location) == (302, f"/tasks/{change['tasks'][0]['id']}")
    assert 'aria-label="1 unread"' not in manager.get("/notifications").text
    assert http.get("/api/notifications/unread-count", "change-manager").get_json() == {"unread": 0}
    # Elsewhere than this site is never where "open" leads.
    assert manager.post(f"/notifications/{notice_id}/read", {"next": "//evil.example"}).location == "/"


def test_preferences_are_saved_from_the_form(app, http):
    owner = signed_in(app, "change-owner")
    assert owner.post("/notifications/preferences", {"kinds": ["escalation", "instance.incident"],
                                                     "digest": "yes"}).status == 302
    assert http.get("/api/notification-preferences", "change-owner").get_json() == {
        "kinds": ["escalation", "instance.incident"], "digest": True}
    page = owner.get("/notifications/preferences")
    assert 'value="escalation" checked' in page.text and 'value="task.ready" >' in page.text


def test_the_admin_subscribes_a_webhook_and_sees_its_secret_once(app, http):
    admin = signed_in(app, "admin")
    refused = admin.post("/admin/webhooks", {"url": "not a url", "kinds": "*"})
    assert refused.status == 422 and "Give an http:// or https:// URL" in refused.text
    created = admin.post("/admin/webhooks", {"url": "https://hooks.example.com/cf", "kinds": ["task.ready"]})
    assert created.status == 302
    page = admin.get(created.location)
    [flash] = [message for message in page.flashes() if "signing secret" in message]
    secret = flash.rsplit(" ", 1)[1]
    assert secret.startswith("whsec_")
    assert "https://hooks.example.com/cf" in page.text
    assert secret not in admin.get("/admin/webhooks").text  # shown once
    [hook] = http.get("/api/webhooks", "admin").get_json()
    assert admin.post(f"/admin/webhooks/{hook['id']}/delete").status == 302
    assert http.get("/api/webhooks", "admin").get_json() == []


def test_the_admin_replays_a_dead_letter_and_reads_the_development_mailbox(app, http, clock, app_engine):
    dead = a_dead_letter(http, clock, app_engine)["delivery_id"]
    admin = signed_in(app, "admin")
    page = admin.get("/admin/dead-letters")
    assert "550 no such user" in page.text
    assert admin.post(f"/admin/dead-letters/{dead}/replay").status == 302
    assert "No dead letters." in admin.get("/admin/dead-letters").text
    # No SMTP server is set in the tests: the mail goes to the development mailbox, shown to admins.
    app.extensions[EXTENSION].run_pass()
    mailbox = admin.get("/admin/mail")
    assert "No SMTP server is set" in mailbox.text
    assert "To someone@example.com" in mailbox.text and "cf-matrix-" in mailbox.text
