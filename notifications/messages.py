"""What a notification says: its subject, its lines and the page it links to, for each kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from notifications.kinds import Kind

RECORD_FOLDERS = {"change": "changes", "release": "releases"}  # the web app's record pages, by practice
TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                        autoescape=select_autoescape(["html"]), keep_trailing_newline=True)


@dataclass(frozen=True)
class Message:
    subject: str
    lines: list[str]
    link: str  # a path in the web app: /tasks/ID or /changes/CHG-000001

    def email(self, base_url: str, greeting: str | None) -> dict[str, str]:
        """The mail's subject, text part and HTML part, linking to the page at ``base_url``."""
        context = {"message": self, "url": base_url + self.link, "greeting": greeting}
        return {"subject": self.subject, "text": TEMPLATES.get_template("notification.txt").render(context),
                "html": TEMPLATES.get_template("notification.html").render(context)}


def describe(kind: Kind, business_key: str | None, practice: str | None, task_id: str | None,
             payload: dict[str, Any], actor: str) -> Message:
    """The message for an outbox entry."""
    key = business_key or "a record"
    title = payload.get("title") or "a task"
    holder = payload.get("assignee")
    link = f"/tasks/{task_id}" if task_id and kind in TASK_KINDS else record_link(business_key, practice)
    if kind is Kind.TASK_READY:
        return Message(f"{key}: '{title}' is ready for {payload.get('role')}s",
                       [f"'{title}' in {key} is waiting for a {payload.get('role')} of {practice}.",
                        _due(payload)], link)
    if kind is Kind.TASK_ASSIGNED:
        return Message(f"{key}: '{title}' is assigned to you",
                       [f"{actor} assigned '{title}' in {key} to you." if actor != "system"
                        else f"'{title}' in {key} is yours.", _due(payload)], link)
    if kind is Kind.TASK_DUE_SOON:
        return Message(f"{key}: '{title}' is due soon", [f"'{title}' in {key} is due {_when(payload)}.",
                                                         _held(holder)], link)
    if kind is Kind.TASK_OVERDUE:
        return Message(f"{key}: '{title}' is overdue", [f"'{title}' in {key} was due {_when(payload)}.",
                                                        _held(holder)], link)
    if kind is Kind.ESCALATION:
        late = _duration(int(payload.get("late_by_seconds") or 0))
        waited = _duration(int(payload.get("waiting_seconds") or 0))
        lateness = (f"It has waited {waited} since it opened: {late} past its due time ({_when(payload)})."
                    if payload.get("due_at") else f"It has waited {waited} since it opened, past its escalation "
                                                  "deadline.")
        return Message(f"Escalation: {key} '{title}' is late ({waited} open)",
                       [f"'{title}' in {key} ({payload.get('role')} of {practice}) is late.", lateness,
                        _held(holder), "Remind them, reassign the task or expedite the decision."], link)
    if kind in (Kind.CHANGE_AUTHORIZED, Kind.CHANGE_REJECTED):
        verb = "authorized" if kind is Kind.CHANGE_AUTHORIZED else "rejected"
        lines = [f"{payload.get('decided_by') or actor} {verb} {key}"
                 + (f" ('{payload['title']}')." if payload.get("title") else ".")]
        if payload.get("notes"):
            lines.append(f"Notes: {payload['notes']}")
        return Message(f"{key} was {verb}", lines, link)
    if kind in (Kind.RELEASE_DEPLOYED, Kind.RELEASE_ROLLED_BACK):
        verb = "deployed" if kind is Kind.RELEASE_DEPLOYED else "rolled back"
        lines = [f"{payload.get('decided_by') or actor} recorded {key} as {verb}."]
        if payload.get("notes"):
            lines.append(f"Notes: {payload['notes']}")
        return Message(f"{key} was {verb}", lines, link)
    # Kind.INCIDENT
    return Message(f"{key} stopped with an incident",
                   [f"{key} stopped at {payload.get('element_id') or 'an element'}: "
                    f"{payload.get('error_type') or 'error'}: {payload.get('message') or ''}".rstrip(),
                    "Fix the cause and retry it from its record page."], link)


TASK_KINDS = (Kind.TASK_READY, Kind.TASK_ASSIGNED, Kind.TASK_DUE_SOON, Kind.TASK_OVERDUE, Kind.ESCALATION)


def record_link(business_key: str | None, practice: str | None) -> str:
    if not business_key:
        return "/"
    folder = RECORD_FOLDERS.get(practice or "")
    return f"/{folder}/{business_key}" if folder else f"/records/{business_key}"


def _held(holder: Any) -> str:
    return f"{holder} holds it." if holder else "Nobody has claimed it yet."


def _due(payload: dict[str, Any]) -> str:
    return f"Due {_when(payload)}." if payload.get("due_at") else ""


def _when(payload: dict[str, Any]) -> str:
    value = payload.get("due_at")
    if not value:
        return "(no due time)"
    return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: int) -> str:
    """``2 d 3 h``, ``5 h 10 min``, ``4 min``."""
    seconds = max(0, seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def digest_email(base_url: str, greeting: str | None, items: list[tuple[str, str, str]]) -> dict[str, str]:
    """One mail listing ``items`` (subject, first line, link): a person's daily digest."""
    context = {"items": [(subject, line, base_url + link) for subject, line, link in items], "greeting": greeting,
               "url": base_url + "/notifications"}
    subject = f"Changeflow: {len(items)} notification{'s' if len(items) != 1 else ''} today"
    return {"subject": subject, "text": TEMPLATES.get_template("digest.txt").render(context),
            "html": TEMPLATES.get_template("digest.html").render(context)}
