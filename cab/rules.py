"""How a CAB vote is decided: the rule an owner sets per change model, and the tally. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Ballot(StrEnum):
    """What a CAB member can vote."""

    APPROVE = "approve"
    REJECT = "reject"
    ABSTAIN = "abstain"


class DecisionRule(StrEnum):
    """How the votes cast decide, once the quorum is met."""

    ANY_REJECT = "any_reject"  # one reject rejects; else approved
    MAJORITY = "majority"  # more approves than rejects (abstentions do not count; a tie rejects)
    UNANIMOUS = "unanimous"  # every vote cast but abstentions approves, and at least one does


class Outcome(StrEnum):
    """How a CAB review ended."""

    APPROVED = "approved"
    REJECTED = "rejected"
    NO_QUORUM = "no_quorum"  # too few votes by the deadline: escalated to the process owner


@dataclass(frozen=True)
class CabRule:
    """The quorum (votes cast, abstentions included), the decision rule and how long the vote stays open."""

    quorum: int = 2
    decision_rule: DecisionRule = DecisionRule.ANY_REJECT
    vote_hours: int = 72

    @property
    def deadline(self) -> str:
        """The vote's deadline as the ISO 8601 duration the diagram's timer reads."""
        return f"PT{self.vote_hours}H"


DEFAULT_RULE = CabRule()
"""The rule of a change model whose owner has set none."""


@dataclass(frozen=True)
class Vote:
    voter: str
    ballot: Ballot
    comment: str | None = None


@dataclass(frozen=True)
class Tally:
    """The counted votes and what they decide under a rule."""

    outcome: Outcome
    approve: int
    reject: int
    abstain: int
    quorum: int
    decision_rule: DecisionRule

    @property
    def cast(self) -> int:
        return self.approve + self.reject + self.abstain


def tally(rule: CabRule, votes: Iterable[Vote]) -> Tally:
    """Count ``votes`` (one per voter: the first counts; the engine lets nobody vote twice anyway) and
    decide under ``rule``."""
    seen: set[str] = set()
    counts = {ballot: 0 for ballot in Ballot}
    for vote in votes:
        if vote.voter in seen:
            continue
        seen.add(vote.voter)
        counts[vote.ballot] += 1
    approve, reject, abstain = counts[Ballot.APPROVE], counts[Ballot.REJECT], counts[Ballot.ABSTAIN]
    if approve + reject + abstain < rule.quorum:
        outcome = Outcome.NO_QUORUM
    elif rule.decision_rule is DecisionRule.ANY_REJECT:
        outcome = Outcome.REJECTED if reject else Outcome.APPROVED
    elif rule.decision_rule is DecisionRule.MAJORITY:
        outcome = Outcome.APPROVED if approve > reject else Outcome.REJECTED
    else:
        outcome = Outcome.APPROVED if approve and not reject else Outcome.REJECTED
    return Tally(outcome, approve, reject, abstain, rule.quorum, rule.decision_rule)
