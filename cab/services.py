"""The service tasks the shipped normal change calls to open and to close a CAB review.

``cab_open_vote`` reads the change model's rule and the practice's CAB members, and answers how many seats
the vote has (``loopCardinality`` of the multi-instance vote), its deadline (the boundary timer) and which
earlier votes belong to earlier rounds (a change reworked and sent to the CAB again is voted on afresh).
``cab_tally`` counts the votes cast on the vote task (from the task rows and their audit events, so the
votes survive the deadline's interrupting timer) and decides under the rule, unless the chair recorded the
meeting's outcome, which then is the decision.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cab.rules import Ballot, Outcome, Vote, tally
from cab.store import CabStore
from engine.services import ServiceContext, ServiceError, ServiceRegistry
from engine.states import EventType

VOTE_FIELD = "cab_vote"  # the vote form's fields (forms/definitions/cab/vote.json)
COMMENT_FIELD = "cab_comment"


def _own_instance(context: ServiceContext) -> Any:
    own = context.find_instance(context.business_key)
    if own is None:  # the calling instance always exists; a missing one is a bug worth naming
        raise ServiceError(f"{context.business_key} cannot read its own record")
    return own


def cab_open_vote(context: ServiceContext, vote_task: str) -> dict[str, Any]:
    """Open a CAB review of the calling change: its rule, its seats (the CAB members but the requester) and
    the vote task's earlier completions (earlier rounds, not counted again)."""
    own = _own_instance(context)
    cab = CabStore(context.session)
    rule = cab.rule_for(own.process_key)
    members = [user for user in cab.members(own.practice) if user != own.started_by]
    earlier = [submission.task_id for submission in context.submissions(vote_task)]
    review = {"vote_task": vote_task, "process_key": own.process_key, "quorum": rule.quorum,
              "decision_rule": rule.decision_rule.value, "deadline": rule.deadline, "seats": len(members),
              "members": members, "opened_at": context.now.isoformat(),
              "closes_at": (context.now + timedelta(hours=rule.vote_hours)).isoformat(), "earlier_votes": earlier}
    context.record_event(context.business_key, EventType.CAB_OPENED,
                         {key: review[key] for key in ("quorum", "decision_rule", "deadline", "closes_at", "seats",
                                                        "members")})
    return review


def cab_tally(context: ServiceContext, review: dict[str, Any], meeting: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    """Close the CAB review ``review`` (what ``cab_open_vote`` answered): count the votes of this round and
    decide under the rule, or take the chair's recorded ``meeting`` outcome (``{outcome, comment, chair}``)."""
    if not isinstance(review, dict) or "vote_task" not in review:
        raise ServiceError("review must be what cab_open_vote answered for this round")
    own = _own_instance(context)
    rule = CabStore(context.session).rule_for(own.process_key)
    earlier = set(review.get("earlier_votes") or [])
    votes = []
    for submission in context.submissions(str(review["vote_task"])):
        if submission.task_id in earlier:
            continue
        try:
            ballot = Ballot(str(submission.data.get(VOTE_FIELD)))
        except ValueError:
            continue  # the form allows only the three ballots; anything else is not a vote
        votes.append(Vote(submission.completed_by, ballot, submission.data.get(COMMENT_FIELD)))
    counted = tally(rule, votes)
    outcome, decided_by, chair, comment = counted.outcome, "rule", None, None
    if isinstance(meeting, dict) and meeting.get("outcome") in (Outcome.APPROVED, Outcome.REJECTED):
        outcome, decided_by = Outcome(meeting["outcome"]), "chair"
        chair, comment = meeting.get("chair"), meeting.get("comment")
    result = {"outcome": outcome.value, "decided_by": decided_by, "chair": chair, "chair_comment": comment,
              "approve": counted.approve, "reject": counted.reject, "abstain": counted.abstain,
              "quorum": counted.quorum, "quorum_met": counted.outcome is not Outcome.NO_QUORUM,
              "decision_rule": counted.decision_rule.value,
              "votes": [{"voter": v.voter, "vote": v.ballot.value, "comment": v.comment} for v in votes]}
    context.record_event(context.business_key, EventType.CAB_DECIDED, result)
    return result


def register_cab_services(registry: ServiceRegistry) -> ServiceRegistry:
    """Add the CAB's services to ``registry`` (the application's, see ``app.py``) and return it."""
    registry.register()(cab_open_vote)
    registry.register()(cab_tally)
    return registry
