"""Process KPIs per practice and period, as JSON and as CSV (owners and managers of the practice, admins)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import problems
from kpis import KpiReport, PeriodKind, kpi_report, periods_between, recent_periods
from roles.policy import Action, PracticeFacts, check

blp = protect(Blueprint("kpis", __name__, url_prefix="/api",
                        description="Process KPIs per practice and period, from the audit trail."))


class KpiArgs(Schema):
    practice = fields.String(load_default="change", validate=validate.Regexp(r"^[a-z][a-z0-9_-]{0,49}$"))
    period = fields.Enum(PeriodKind, by_value=True, load_default=PeriodKind.MONTH,
                         metadata={"description": "week (ISO, Monday to Monday) or month; UTC."})
    start = fields.Date(data_key="from", load_default=None, metadata={
        "description": "A day in the first period (default: the last 6 periods, up to today)."})
    end = fields.Date(data_key="to", load_default=None, metadata={"description": "A day in the last period."})

    @validates_schema
    def _span(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if (data.get("start") is None) != (data.get("end") is None):
            raise ValidationError("Give both 'from' and 'to', or neither.", "to")
        if data.get("start") and data.get("end"):
            try:
                periods_between(data["period"], data["start"], data["end"])
            except ValueError as error:
                raise ValidationError(str(error), "to") from None


class PeriodSchema(Schema):
    period = fields.String(attribute="period.label", metadata={"example": "2026-11"})
    start = fields.DateTime(attribute="period.start")
    end = fields.DateTime(attribute="period.end")
    metrics = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), metadata={
        "description": "Metric name -> value (null when there is nothing to measure); see `definitions`."})


class KpiReportSchema(Schema):
    practice = fields.String()
    period = fields.String(attribute="kind")
    population = fields.String(metadata={"description": "Which records a period's figures are about."})
    definitions = fields.Dict(keys=fields.String(), values=fields.String(),
                              metadata={"description": "What each metric means."})
    periods = fields.List(fields.Nested(PeriodSchema))


def requested_report(args: dict[str, Any]) -> KpiReport:
    """The report the arguments ask for, after the policy allowed the caller to see the practice's KPIs."""
    practice, kind = args["practice"], args["period"]
    check(principal(), Action.VIEW_KPIS, PracticeFacts(practice))
    cf = changeflow()
    today: date = cf.now().date()
    periods = periods_between(kind, args["start"], args["end"]) if args.get("start") else recent_periods(kind, today)
    return kpi_report(cf.engine, practice, kind, periods, actor=principal().username)


@blp.route("/kpis")
class Kpis(MethodView):
    @blp.arguments(KpiArgs, location="query", unknown=RAISE)
    @blp.response(200, KpiReportSchema)
    @problems(blp, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """The practice's KPIs per period: changes by type and their ratios, success, backed out and rolled
        back, lead times (median and p90), authorization SLA breaches and rework; for releases, deployed and
        rolled back and changes per release. Each period's figures are about the records closed in it."""
        return requested_report(args)


@blp.route("/kpis.csv")
class KpisCsv(MethodView):
    @blp.arguments(KpiArgs, location="query", unknown=RAISE)
    @blp.doc(responses={"200": {"description": "One line per period, then one column per metric.",
                                "content": {"text/csv": {"schema": {"type": "string"}}}}})
    @problems(blp, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """The same KPIs as CSV, for a spreadsheet."""
        report = requested_report(args)
        filename = f"kpis-{report.practice}-{report.kind.value}-{report.periods[0].period.label}.csv"
        return Response(report.to_csv(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
