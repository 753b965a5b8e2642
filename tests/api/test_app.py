"""The application factory: what an app does at start-up depends on who runs it."""

from __future__ import annotations

import threading

import pytest

from roles import accounts

# HTTP behaviour that does not depend on the SQL dialect: one backend is enough (tests/engine and
# tests/roles cover the SQL on both).
pytestmark = pytest.mark.sqlite_only


def test_an_app_made_outside_the_embedded_server_creates_no_demo_users_and_no_timer_thread(database_url,
                                                                                            monkeypatch):
    """``flask --app app ...`` and gunicorn call create_app(): no invented users, timers come from `worker`."""
    from app import create_app

    for name in ("CHANGEFLOW_DEMO_USERS", "CHANGEFLOW_TIMER_THREAD"):
        monkeypatch.delenv(name, raising=False)
    before = {thread.ident for thread in threading.enumerate()}

    app = create_app({"CHANGEFLOW_DATABASE_URL": database_url, "CHANGEFLOW_MIGRATE": False,
                      "CHANGEFLOW_DEPLOY_BPMN": False, "CHANGEFLOW_LOG_LEVEL": "WARNING"})

    database = app.extensions["changeflow"].database
    try:
        with database.snapshot() as session:
            assert accounts.count_users(session) == 0
        started = [thread.name for thread in threading.enumerate() if thread.ident not in before]
        assert "changeflow-timers" not in started
    finally:
        database.dispose()


def test_the_embedded_server_settings_create_demo_users_once(database_url, capsys):
    from app import create_app

    settings = {"CHANGEFLOW_DATABASE_URL": database_url, "CHANGEFLOW_MIGRATE": False, "CHANGEFLOW_DEPLOY_BPMN": False,
                "CHANGEFLOW_DEMO_USERS": True, "CHANGEFLOW_TIMER_THREAD": False, "CHANGEFLOW_LOG_LEVEL": "WARNING"}
    first = create_app(settings)
    printed = capsys.readouterr().out
    second = create_app(settings)

    try:
        assert "Changeflow demo users" in printed and printed.count(" cf_") == 9
        assert capsys.readouterr().out == ""  # the second start finds users and prints nothing
        with first.extensions["changeflow"].database.snapshot() as session:
            assert sorted(user.username for user in accounts.list_users(session)[0]) == [
                "admin", "change-cab", "change-cab-2", "change-manager", "change-owner", "change-practitioner",
                "release-manager", "release-owner", "release-practitioner"]
    finally:
        first.extensions["changeflow"].database.dispose()
        second.extensions["changeflow"].database.dispose()
