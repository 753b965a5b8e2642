"""The CAB package's queries: its rules table, and who sits on a practice's CAB."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cab.models import CabRuleRow
from cab.rules import DEFAULT_RULE, CabRule, DecisionRule
from roles import accounts
from roles.policy import Role


class CabStore:
    """Bound to one session (one transaction), like the engine's store."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def rule_row(self, process_key: str) -> CabRuleRow | None:
        return self.session.get(CabRuleRow, process_key)

    def rule_for(self, process_key: str) -> CabRule:
        """The rule the owner set for this change model, or the default rule."""
        row = self.rule_row(process_key)
        if row is None:
            return DEFAULT_RULE
        return CabRule(row.quorum, DecisionRule(row.decision_rule), row.vote_hours)

    def rules(self) -> list[CabRuleRow]:
        return list(self.session.scalars(select(CabRuleRow).order_by(CabRuleRow.process_key)))

    def members(self, practice: str) -> list[str]:
        """The active users holding the ``cab`` role in ``practice`` (or in every practice), by name."""
        return accounts.holders(self.session, [(Role.CAB.value, practice)])[(Role.CAB.value, practice)]
