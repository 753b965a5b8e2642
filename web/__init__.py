"""The web app for people: server-rendered pages on the same Flask app as the API, under ``/``.

Requesters, managers, owners and admins sign in with a password and work in a browser: their inbox
("My work"), task forms, starting processes, the record of a change or release, a search and the admin
pages. Every page ends in the same engine commands and the same policy (``roles.policy``) as the API, and
forms render from the same definitions that the server validates with. The core flows (sign in, start,
claim, complete) are plain HTML form posts; the script on top only shows ``required_if`` fields when they
apply and draws the diagrams (bpmn-js, bundled in ``web/static``, built from ``web/assets``).

``web`` never imports ``api``, and ``api`` never imports ``web``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from markupsafe import Markup
from werkzeug.routing import BaseConverter

from engine import Database, Engine
from forms import FormDefinition
from web import admin, auth, cab_pages, catalog, errors, kpis, notifications, pages, schedule_pages, studio, versions
from web.context import WEB_EXTENSION, WebContext
from web.routes import make_blueprint


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def when(value: Any) -> str:
    """A time as people read it, in UTC: ``2026-01-05 09:00 UTC`` (text that is no time stays as it is)."""
    moment = _moment(value)
    if moment is None:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def show(value: Any) -> str:
    """A data value as people read it: times in UTC, yes/no, lists joined (an empty one as "none"), a record that
    carries its own ``message`` (a schedule conflict) as that message, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and ISO_MOMENT.match(value):
        return when(value)
    if isinstance(value, (list, tuple)):
        if any(isinstance(item, dict) for item in value):
            return "; ".join(show(item).rstrip(".") for item in value) + "."
        return ", ".join(show(item) for item in value) or "none"
    if isinstance(value, dict):
        message = value.get("message")
        return message if isinstance(message, str) and message else json.dumps(value, ensure_ascii=False)
    return str(value)


SLA_TEXT = {"overdue": "Overdue", "due_soon": "Due soon", "on_track": "On track"}


def time_tag(value: Any) -> Markup:
    """A ``<time>`` element for a moment (or a dash). Filters, not macros: a list renders many of them."""
    if not value:
        return Markup('<span class="muted">—</span>')
    return Markup('<time datetime="{}">{}</time>').format(iso(value), when(value))


def risk_badge(value: Any) -> Markup:
    if not value:
        return Markup('<span class="muted">—</span>')
    return Markup('<span class="badge risk-{0}">{0}</span>').format(value)


def status_badge(value: Any) -> Markup:
    return Markup('<span class="badge status-{0}">{0}</span>').format(value)


def sla_badge(state: Any) -> Markup:
    value = getattr(state, "value", state)
    if not value or value == "none":
        return Markup('<span class="muted">No SLA</span>')
    return Markup('<span class="badge sla-{}">{}</span>').format(value, SLA_TEXT.get(value, value))


def iso(value: Any) -> str:
    moment = _moment(value)
    return moment.isoformat() if moment is not None else str(value)


class RecordKeyConverter(BaseConverter):
    """``<record_key:name>``: a business key such as ``CHG-000042``."""

    regex = r"[A-Za-z]{2,10}-[0-9]{1,12}"


def init_app(app: Flask, database: Database, engine: Engine,
             forms: Mapping[str, FormDefinition] | None = None) -> None:
    """Register the web blueprint at ``/``, its session cookie settings and its error pages.

    ``forms`` are the shipped form definitions: the studio offers them to tasks.
    """
    app.extensions[WEB_EXTENSION] = WebContext(database, engine, dict(forms or {}))
    app.url_map.converters["record_key"] = RecordKeyConverter
    # Flask's defaults hold these keys already (HttpOnly on, SameSite unset), so setdefault would not do.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.session_interface = auth.SessionInterface()
    blp = make_blueprint()
    # Each module adds its routes to the one blueprint before it is registered.
    for module in (auth, pages, admin, studio, versions, schedule_pages, cab_pages, catalog, kpis, notifications):
        module.register(blp)
    errors.register(blp)
    blp.add_app_template_filter(when, "when")
    blp.add_app_template_filter(iso, "iso")
    blp.add_app_template_filter(show, "show")
    for name, function in (("time_tag", time_tag), ("risk_badge", risk_badge), ("status_badge", status_badge),
                           ("sla_badge", sla_badge)):
        blp.add_app_template_filter(function, name)
    blp.add_app_template_global(pages.record_url, "record_url")
    app.register_blueprint(blp)
    errors.register_app_fallback(app)
