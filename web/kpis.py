"""The KPI dashboard: a practice's figures per period as charts (Chart.js, vendored) and as a table, with the
CSV export one click away. The same report and policy as /api/kpis."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, flash, render_template, request

from engine import PageRequest
from kpis import KpiReport, PeriodKind, kpi_report, periods_between, recent_periods
from roles.policy import Action, PracticeFacts, check, may
from web.context import me, web


def _day(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        flash(f"'{text}' is not a day (YYYY-MM-DD); showing the last periods instead.", "error")
        return None


def _report() -> KpiReport:
    practice = request.args.get("practice", "change")
    check(me(), Action.VIEW_KPIS, PracticeFacts(practice))
    kind = PeriodKind.WEEK if request.args.get("period") == "week" else PeriodKind.MONTH
    first, last = _day("from"), _day("to")
    cf = web()
    periods = recent_periods(kind, cf.now().date())
    if first and last:
        try:
            periods = periods_between(kind, first, last)
        except ValueError as error:
            flash(f"{error} Showing the last periods instead.", "error")
    return kpi_report(cf.engine, practice, kind, periods, actor=me().username)


def _practices() -> list[str]:
    """The practices whose KPIs the signed-in person may see (those with deployed processes)."""
    models = web().engine.list_models(me().visible_practices(), PageRequest(1, 200)).items
    found = sorted({model.practice for model in models})
    return [practice for practice in found if may(me(), Action.VIEW_KPIS, PracticeFacts(practice))]


def dashboard() -> Any:
    report = _report()
    chart_data = {"practice": report.practice, "labels": [row.period.label for row in report.periods],
                  "metrics": {name: [row.metrics[name] for row in report.periods] for name in report.definitions}}
    return render_template("kpis.html", report=report, chart_data=chart_data, practices=_practices(),
                           args=request.args)


def export_csv() -> Response:
    report = _report()
    filename = f"kpis-{report.practice}-{report.kind.value}-{report.periods[0].period.label}.csv"
    return Response(report.to_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def may_see_kpis() -> bool:
    """Whether the navigation shows KPIs: the person may see some practice's (no query: their grants say)."""
    principal = me()
    return principal.is_admin or any(may(principal, Action.VIEW_KPIS, PracticeFacts(practice))
                                     for _role, practice in principal.grants)


def register(blp: Blueprint) -> None:
    blp.add_app_template_global(may_see_kpis, "may_see_kpis")
    blp.add_url_rule("/kpis", "kpis", dashboard)
    blp.add_url_rule("/kpis.csv", "kpis_csv", export_csv)
