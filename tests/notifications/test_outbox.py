"""The outbox: rows written in the command's own transaction, fanned out by the worker into in-app notices and
mails (the development mailbox when no SMTP server is set), to the right people."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from notifications.models import Delivery, DevMail, Notice, OutboxEntry
from tests.api.support import Http, assert_problem


def count(app: Any, model: Any, **where: Any) -> int:
    with app.extensions["changeflow"].database.snapshot() as session:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return int(session.scalar(statement) or 0)


def notices(http: Http, user: str, **query: Any) -> list[dict[str, Any]]:
    response = http.get("/api/notifications", user, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_new_task_tells_its_role_in_the_app_and_by_mail(app, http, clock, shipped, notifier, with_emails):
    change = http.start_change(clock)
    assert count(app, OutboxEntry, kind="task.ready") == 1  # written by the start, before any worker ran
    assert notices(http, "change-manager") == []  # nothing is sent by the request itself

    report = notifier.run_pass()

    assert report.fanned_out == 1
    [notice] = notices(http, "change-manager")
    assert notice["kind"] == "task.ready"
    assert change["business_key"] in notice["subject"] and "Assess change" in notice["subject"]
    assert notice["link"] == f"/tasks/{change['tasks'][0]['id']}"
    assert notice["read_at"] is None
    assert notices(http, "change-practitioner") == []  # the requester caused it; other roles are not told
    assert notices(http, "release-manager") == []
    # Without SMTP settings the mail is kept in the development mailbox, with the link in both parts.
    with app.extensions["changeflow"].database.snapshot() as session:
        [mail] = session.scalars(select(DevMail)).all()
    assert mail.to == "change-manager@example.com"
    assert f"http://127.0.0.1:5000/tasks/{change['tasks'][0]['id']}" in mail.text
    assert f'href="http://127.0.0.1:5000/tasks/{change["tasks"][0]["id"]}"' in mail.html
    assert count(app, Delivery, status="sent") == 1


def test_a_failed_command_writes_no_outbox_row(app, http, clock, shipped, notifier):
    change = http.start_change(clock)
    before = count(app, OutboxEntry)
    response = http.post(f"/api/tasks/{change['tasks'][0]['id']}/complete", "change-manager",
                         {"data": {"assessment_decision": "maybe"}})
    assert_problem(response, 422)
    assert count(app, OutboxEntry) == before


def test_authorization_tells_the_requester(app, http, clock, shipped, notifier):
    change = http.start_change(clock)
    http.complete(http.open_task(change["id"], "assess_change")["id"], "change-manager",
                  {"assessment_decision": "accept"})
    http.complete(http.open_task(change["id"], "authorize_change")["id"], "change-manager",
                  {"authorization_decision": "authorize", "authorization_notes": "Go ahead."})
    notifier.run_pass()

    [authorized] = notices(http, "change-practitioner")
    assert authorized["kind"] == "change.authorized"
    assert authorized["subject"] == f"{change['business_key']} was authorized"
    assert "change-manager authorized" in authorized["body"] and "Go ahead." in authorized["body"]
    assert authorized["link"] == f"/changes/{change['business_key']}"


def test_an_assignment_tells_the_assignee(app, http, clock, shipped, notifier):
    change = http.start_change(clock)
    task_id = change["tasks"][0]["id"]
    notifier.run_pass()
    response = http.post(f"/api/tasks/{task_id}/assign", "change-owner", {"user": "change-manager"})
    assert response.status_code == 200, response.get_json()
    notifier.run_pass()
    kinds = [notice["kind"] for notice in notices(http, "change-manager")]
    assert kinds == ["task.assigned", "task.ready"]
    assert "change-owner assigned" in notices(http, "change-manager")[0]["body"]


def test_muted_kinds_are_not_sent(app, http, clock, shipped, notifier, with_emails):
    response = http.call("PUT", "/api/notification-preferences", "change-manager",
                         json={"kinds": ["escalation"], "digest": False})
    assert response.status_code == 200, response.get_json()
    http.start_change(clock)
    notifier.run_pass()
    assert notices(http, "change-manager") == []
    assert count(app, Delivery) == 0
    assert count(app, Notice, username="change-owner") == 0  # owners do not assess


def test_reading_notices_changes_the_unread_count(app, http, clock, shipped, notifier):
    http.start_change(clock)
    http.start_change(clock)
    notifier.run_pass()
    assert http.get("/api/notifications/unread-count", "change-manager").get_json() == {"unread": 2}
    first, second = notices(http, "change-manager")
    # someone else's notice does not exist for you
    assert_problem(http.post(f"/api/notifications/{first['id']}/read", "change-owner"), 404)
    assert http.post(f"/api/notifications/{first['id']}/read", "change-manager").get_json() == {"marked": 1}
    assert [n["id"] for n in notices(http, "change-manager", unread="true")] == [second["id"]]
    assert http.post("/api/notifications/read-all", "change-manager").get_json() == {"marked": 1}
    assert http.get("/api/notifications/unread-count", "change-manager").get_json() == {"unread": 0}
