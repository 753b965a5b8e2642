"""The CAB agenda: the changes awaiting the CAB, read from the engine's mirror tables (never a workflow)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cab.commands import VOTE_TASK
from cab.rules import Ballot
from cab.services import VOTE_FIELD
from cab.views import AgendaItem
from engine.store import Store


def agenda(store: Store, practices: Sequence[str] | None, *, start: datetime | None = None,
           end: datetime | None = None) -> list[AgendaItem]:
    """The changes in ``practices`` (None: all) with an open CAB vote whose planned start falls in
    [``start``, ``end``) (either bound may be open), soonest planned start first."""
    items = []
    for row in store.instances_at_task(VOTE_TASK, practices):
        data: dict[str, Any] = dict(row.data or {})
        planned_start = _moment(data.get("planned_start"))
        if (start is not None or end is not None) and planned_start is None:
            continue
        if start is not None and planned_start is not None and planned_start < start:
            continue
        if end is not None and planned_start is not None and planned_start >= end:
            continue
        found = data.get("cab_review")
        review: dict[str, Any] = found if isinstance(found, dict) else {}
        earlier = set(review.get("earlier_votes") or [])
        votes = {ballot.value: 0 for ballot in Ballot}
        for task_id, _user, _at, submitted in store.submissions(row.id, VOTE_TASK):
            if task_id not in earlier and submitted.get(VOTE_FIELD) in votes:
                votes[submitted[VOTE_FIELD]] += 1
        conflicts = data.get("schedule_conflicts")
        items.append(AgendaItem(
            instance_id=row.id, business_key=row.business_key, process_key=row.process_key, practice=row.practice,
            title=_text(data.get("title")), requester=row.started_by, risk=_text(data.get("risk")),
            conflicts=[c for c in conflicts if isinstance(c, dict)] if isinstance(conflicts, list) else [],
            service=_text(data.get("affected_service")), planned_start=_text(data.get("planned_start")),
            planned_end=_text(data.get("planned_end")), seats=int(review.get("seats") or 0),
            quorum=int(review.get("quorum") or 0), decision_rule=str(review.get("decision_rule") or ""),
            votes=votes, deadline=_moment(review.get("closes_at")),
        ))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(items, key=lambda item: (_moment(item.planned_start) or far, item.business_key))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
