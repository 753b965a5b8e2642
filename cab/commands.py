"""The CAB's commands, run by ``Engine.run`` in one transaction each like the engine's own.

``SetCabRule``: a process owner sets a change model's quorum, decision rule and vote deadline.
``RecordCabOutcomes``: the chair records a meeting's outcome for several changes at once. It is
all-or-nothing: every decision is delivered (as the ``cab_outcome`` message each change's CAB vote waits
for) in the one transaction, so a refused item (not awaiting the CAB, not the chair's practice, a lost race)
leaves every change as it was, and the answer names the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cab.models import CabRuleRow
from cab.rules import DecisionRule, Outcome
from cab.views import OutcomeRecorded, RuleView
from engine import CommandContext, Conflict, CorrelateMessage, EventType, InvalidInput, NotFound
from engine.views import InstanceFacts, ProcessFacts
from roles.errors import DutiesSeparated

VOTE_TASK = "cab_vote"  # the element id of the CAB vote in the shipped normal change
OUTCOME_MESSAGE = "cab_outcome"  # the message its boundary event waits for: the chair's recorded outcome
MAX_QUORUM = 50
MAX_VOTE_HOURS = 24 * 30
MAX_COMMENT = 2000
MAX_DECISIONS = 100


@dataclass(frozen=True)
class SetCabRule:
    """Set the CAB rule of the change model ``process_key``; the next CAB review of it uses the rule."""

    process_key: str
    quorum: int
    decision_rule: str
    vote_hours: int

    def execute(self, ctx: CommandContext) -> RuleView:
        model = ctx.store.get_model(self.process_key)
        if model is None:
            raise NotFound(f"There is no process model '{self.process_key}'.")
        ctx.authorize(ProcessFacts(model.key, model.practice))
        errors: dict[str, list[str]] = {}
        if not 1 <= self.quorum <= MAX_QUORUM:
            errors["quorum"] = [f"Give a number of votes from 1 to {MAX_QUORUM}."]
        if self.decision_rule not in {rule.value for rule in DecisionRule}:
            errors["decision_rule"] = [f"Use one of: {', '.join(rule.value for rule in DecisionRule)}."]
        if not 1 <= self.vote_hours <= MAX_VOTE_HOURS:
            errors["vote_hours"] = [f"Give a number of hours from 1 to {MAX_VOTE_HOURS}."]
        if errors:
            raise InvalidInput(f"The CAB rule is not valid: {_listed(errors)}", errors=errors)
        row = ctx.session.get(CabRuleRow, model.key)
        if row is None:
            row = CabRuleRow(process_key=model.key)
            ctx.session.add(row)
        row.quorum, row.decision_rule, row.vote_hours = self.quorum, self.decision_rule, self.vote_hours
        row.updated_by, row.updated_at = ctx.actor, ctx.now
        ctx.store.add_event(at=ctx.now, actor=ctx.actor, type=EventType.CAB_RULE_SET, instance_id=None,
                            data={"process_key": model.key, "quorum": self.quorum,
                                  "decision_rule": self.decision_rule, "vote_hours": self.vote_hours})
        return RuleView.of(row, model.practice)


@dataclass(frozen=True)
class CabDecision:
    """One item of a meeting's outcome: the change and what the CAB decided."""

    business_key: str
    outcome: str  # approved or rejected
    comment: str | None = None


@dataclass(frozen=True)
class RecordCabOutcomes:
    """Record a CAB meeting's outcome for several changes, each as that change's decision, all or nothing."""

    decisions: Sequence[CabDecision]

    def execute(self, ctx: CommandContext) -> list[OutcomeRecorded]:
        self._validate()
        recorded = []
        for index, decision in enumerate(self.decisions):
            row = ctx.store.instance_by_business_key(decision.business_key)
            if row is None:
                raise NotFound(f"decisions[{index}]: there is no change {decision.business_key}.",
                               business_key=decision.business_key)
            ctx.authorize(InstanceFacts.of(row))
            if row.started_by == ctx.actor:
                raise DutiesSeparated(f"decisions[{index}]: Separation of duties: {ctx.actor} requested "
                                      f"{decision.business_key} and may not record its CAB decision. Nothing was "
                                      "recorded.")
            if not any(task.element_id == VOTE_TASK for task in ctx.store.live_tasks(row.id)):
                raise Conflict(f"decisions[{index}]: {decision.business_key} is not awaiting the CAB (it has no open "
                               f"CAB vote; status {row.status.value}). Nothing was recorded.",
                               business_key=decision.business_key)
            payload: dict[str, Any] = {"outcome": decision.outcome, "comment": decision.comment, "chair": ctx.actor}
            CorrelateMessage(OUTCOME_MESSAGE, {"business_key": decision.business_key}, payload).execute(ctx)
            recorded.append(OutcomeRecorded(decision.business_key, decision.outcome, decision.comment, ctx.actor))
        return recorded

    def _validate(self) -> None:
        errors: dict[str, list[str]] = {}
        if not self.decisions:
            errors["decisions"] = ["Give at least one decision."]
        if len(self.decisions) > MAX_DECISIONS:
            errors["decisions"] = [f"Record at most {MAX_DECISIONS} decisions at once."]
        seen: set[str] = set()
        for index, decision in enumerate(self.decisions):
            if decision.outcome not in (Outcome.APPROVED, Outcome.REJECTED):
                errors[f"decisions.{index}.outcome"] = ["Use approved or rejected."]
            if decision.business_key in seen:
                errors[f"decisions.{index}.business_key"] = [f"{decision.business_key} is listed twice."]
            seen.add(decision.business_key)
            if decision.comment is not None and len(decision.comment) > MAX_COMMENT:
                errors[f"decisions.{index}.comment"] = [f"Use at most {MAX_COMMENT} characters."]
        if errors:
            raise InvalidInput(f"The meeting's outcomes are not valid; nothing was recorded: {_listed(errors)}",
                               errors=errors)


def _listed(errors: dict[str, list[str]]) -> str:
    """Field errors in one sentence, for pages that show only the detail."""
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
