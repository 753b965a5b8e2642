"""The CAB's decision rules (cab/rules.py): pure functions, no database."""

from __future__ import annotations

import pytest

from cab.rules import Ballot, CabRule, DecisionRule, Outcome, Vote, tally

A, R, X = Ballot.APPROVE, Ballot.REJECT, Ballot.ABSTAIN


def votes(*ballots: Ballot) -> list[Vote]:
    return [Vote(f"member-{index}", ballot) for index, ballot in enumerate(ballots)]


@pytest.mark.parametrize(("rule", "ballots", "outcome"), [
    (DecisionRule.ANY_REJECT, (R, A), Outcome.REJECTED),  # the case: deny + approve rejects
    (DecisionRule.ANY_REJECT, (A, A, X), Outcome.APPROVED),
    (DecisionRule.MAJORITY, (R, A), Outcome.REJECTED),  # a tie rejects
    (DecisionRule.MAJORITY, (R, A, A), Outcome.APPROVED),
    (DecisionRule.MAJORITY, (X, X), Outcome.REJECTED),  # abstentions alone approve nothing
    (DecisionRule.UNANIMOUS, (A, A, X), Outcome.APPROVED),
    (DecisionRule.UNANIMOUS, (A, A, R), Outcome.REJECTED),
    (DecisionRule.UNANIMOUS, (X, X), Outcome.REJECTED),
])
def test_each_rule_decides_once_the_quorum_is_met(rule, ballots, outcome):
    assert tally(CabRule(quorum=2, decision_rule=rule), votes(*ballots)).outcome is outcome


def test_too_few_votes_is_no_quorum_whatever_they_say():
    counted = tally(CabRule(quorum=3, decision_rule=DecisionRule.ANY_REJECT), votes(R, A))
    assert (counted.outcome, counted.cast, counted.quorum) == (Outcome.NO_QUORUM, 2, 3)


def test_abstentions_count_toward_the_quorum():
    assert tally(CabRule(quorum=2), votes(A, X)).outcome is Outcome.APPROVED


def test_one_person_counts_once_even_if_listed_twice():
    counted = tally(CabRule(quorum=2), [Vote("ann", A), Vote("ann", R)])
    assert (counted.outcome, counted.approve, counted.reject) == (Outcome.NO_QUORUM, 1, 0)


def test_the_deadline_is_an_iso_duration():
    assert CabRule(vote_hours=48).deadline == "PT48H"
