"""What the CAB's commands and queries answer: plain frozen dataclasses the API and web app render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cab.models import CabRuleRow
from cab.rules import DEFAULT_RULE


@dataclass(frozen=True)
class RuleView:
    """A change model's CAB rule (``is_default``: the owner set none, these are the defaults)."""

    process_key: str
    practice: str
    quorum: int
    decision_rule: str
    vote_hours: int
    is_default: bool
    updated_by: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, row: CabRuleRow, practice: str) -> RuleView:
        return cls(row.process_key, practice, row.quorum, row.decision_rule, row.vote_hours, False,
                   row.updated_by, row.updated_at)

    @classmethod
    def default(cls, process_key: str, practice: str) -> RuleView:
        return cls(process_key, practice, DEFAULT_RULE.quorum, DEFAULT_RULE.decision_rule.value,
                   DEFAULT_RULE.vote_hours, True, None, None)


@dataclass(frozen=True)
class OutcomeRecorded:
    """One change's decision recorded by the chair."""

    business_key: str
    outcome: str
    comment: str | None
    chair: str


@dataclass(frozen=True)
class AgendaItem:
    """A change awaiting the CAB: what the meeting needs to see of it."""

    instance_id: int
    business_key: str
    process_key: str
    practice: str
    title: str | None
    requester: str
    risk: str | None
    conflicts: list[dict[str, Any]]
    service: str | None
    planned_start: str | None
    planned_end: str | None
    seats: int
    quorum: int
    decision_rule: str
    votes: dict[str, int]  # approve, reject, abstain so far
    deadline: datetime | None  # when the vote closes by itself
