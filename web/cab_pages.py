"""The CAB pages: the agenda (and the chair's form recording a meeting's outcomes), and the CAB rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from cab.access import agenda_practices, may_read_an_agenda, rule_views
from cab.agenda import agenda
from cab.commands import CabDecision, RecordCabOutcomes, SetCabRule
from cab.rules import DecisionRule, Outcome
from engine import PageRequest
from engine.store import Store
from engine.views import ProcessFacts
from roles.policy import Action, authorizer, may
from web.context import me, web

OUTCOMES = (Outcome.APPROVED.value, Outcome.REJECTED.value)
MAX_MODELS = 200


def _day(name: str, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` query argument as midnight UTC (``end``: the midnight after, so the day counts)."""
    text = request.args.get(name, "")
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(day, time(), tzinfo=UTC) + (timedelta(days=1) if end else timedelta())


def agenda_page() -> Any:
    """The changes awaiting the CAB in a period, with risk, conflicts, service, window and votes so far; the
    chair (a manager or owner of the practice) records the meeting's outcomes for several at once."""
    principal = me()
    practice = request.args.get("practice") or None
    practices = agenda_practices(principal, practice)
    with web().database.snapshot() as session:
        items = agenda(Store(session), practices, start=_day("from"), end=_day("to", end=True))
    chairs = {item.business_key: item.requester != principal.username
              and may(principal, Action.CHAIR_CAB, ProcessFacts(item.process_key, item.practice)) for item in items}
    return render_template("cab/agenda.html", items=items, chairs=chairs, chair_any=any(chairs.values()),
                           outcomes=OUTCOMES, args=request.args, practices=_agenda_choices())


def _agenda_choices() -> list[str]:
    """The practices with deployed processes whose agenda the signed-in person may read: the filter's choices."""
    readable = agenda_practices(me())  # None: every practice (an admin)
    models = web().engine.list_models(me().visible_practices(), PageRequest(1, MAX_MODELS)).items
    return sorted({model.practice for model in models if readable is None or model.practice in readable})


def record_outcomes() -> Any:
    """The chair's form: every row with an outcome chosen becomes that change's decision, all or nothing."""
    form = request.form
    decisions = [CabDecision(key, form.get(f"outcome-{key}", ""), (form.get(f"comment-{key}") or "").strip() or None)
                 for key in form.getlist("business_key") if form.get(f"outcome-{key}")]
    if not decisions:
        flash("Choose an outcome for at least one change.", "error")
        return redirect(url_for("web.cab_agenda"))
    recorded = web().engine.run(RecordCabOutcomes(decisions), actor=me().username,
                                authorize=authorizer(me(), Action.CHAIR_CAB))
    flash("Recorded: " + ", ".join(f"{r.business_key} {r.outcome}" for r in recorded) + ".", "info")
    return redirect(url_for("web.cab_agenda"))


def rules_page() -> Any:
    """Each change model's CAB rule; owners change their practice's."""
    principal = me()
    cf = web()
    models = cf.engine.list_models(principal.visible_practices(), PageRequest(1, MAX_MODELS)).items
    with cf.database.snapshot() as session:
        rules = rule_views(session, models)
    editable = {rule.process_key: may(principal, Action.SET_CAB_RULES, ProcessFacts(rule.process_key, rule.practice))
                for rule in rules}
    return render_template("cab/rules.html", rules=rules, editable=editable,
                           decision_rules=[rule.value for rule in DecisionRule])


def set_rule(key: str) -> Any:
    form = request.form
    command = SetCabRule(key, _number(form.get("quorum")), form.get("decision_rule", ""),
                         _number(form.get("vote_hours")))
    rule = web().engine.run(command, actor=me().username, authorize=authorizer(me(), Action.SET_CAB_RULES))
    flash(f"The CAB of {rule.process_key} now needs {rule.quorum} votes, decides by {rule.decision_rule} and "
          f"closes after {rule.vote_hours} hours.", "info")
    return redirect(url_for("web.cab_rules"))


def _number(text: str | None) -> int:
    try:
        return int(text or "")
    except ValueError:
        return 0  # out of range: the command refuses it, naming the field


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/cab", "cab_agenda", agenda_page)
    blp.add_url_rule("/cab/decisions", "cab_record_outcomes", record_outcomes, methods=["POST"])
    blp.add_url_rule("/cab/rules", "cab_rules", rules_page)
    blp.add_url_rule("/cab/rules/<string:key>", "cab_set_rule", set_rule, methods=["POST"])
    blp.add_app_template_global(may_read_an_agenda, "may_read_cab_agenda")
