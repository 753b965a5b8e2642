"""A practice's KPIs per period: the figures from ``kpis.queries``, put together, and their CSV form."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from engine import CommandContext, Engine
from kpis import queries
from kpis.definitions import CHANGE_TYPES, DEPLOYED, POPULATION, ROLLED_BACK, metrics_of
from kpis.models import KpiPeriod
from kpis.periods import Period, PeriodKind
from kpis.records import RefreshKpiRecords, is_stale

Value = int | float | None
MEDIAN, P90 = 0.5, 0.9


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile with linear interpolation between closest ranks (PostgreSQL's
    ``percentile_cont``, as ``queries.quantiles`` computes it in SQL); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class PeriodKpis:
    period: Period
    metrics: dict[str, Value]


@dataclass(frozen=True)
class KpiReport:
    practice: str
    kind: PeriodKind
    periods: list[PeriodKpis]
    definitions: dict[str, str]
    population: str = POPULATION

    def to_csv(self) -> str:
        """One line per period: its label and bounds, then every metric (empty when there is no value)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        names = list(self.definitions)
        writer.writerow(["practice", "period", "start", "end", *names])
        for row in self.periods:
            writer.writerow([self.practice, row.period.label, row.period.start.isoformat(), row.period.end.isoformat(),
                             *("" if row.metrics[name] is None else row.metrics[name] for name in names)])
        return out.getvalue()


def kpi_report(engine: Engine, practice: str, kind: PeriodKind, periods: Sequence[Period], *, actor: str) -> KpiReport:
    """The report. ``kpi_record`` is first brought up to date when instances closed since; periods whose
    figures are stored and still valid are read back, the others computed (and stored) in one transaction."""
    with engine.database.snapshot() as session:
        stale = is_stale(session)
    if stale:
        engine.run(RefreshKpiRecords(), actor=actor)
    with engine.database.snapshot() as session:
        stored = _stored(session, practice, kind, periods)
    if len(stored) < len(periods):
        stored = engine.run(ComputeKpiPeriods(practice, kind, tuple(periods)), actor=actor)
    definitions = metrics_of(practice)
    rows = [PeriodKpis(period, {name: stored[period.label].get(name) for name in definitions}) for period in periods]
    return KpiReport(practice, kind, rows, dict(definitions))


def _stored(session: Session, practice: str, kind: PeriodKind, periods: Sequence[Period]) -> dict[str, dict[str, Any]]:
    """The stored figures of those of ``periods`` that have them, by label."""
    rows = session.execute(select(KpiPeriod.label, KpiPeriod.metrics).where(
        KpiPeriod.practice == practice, KpiPeriod.kind == kind.value,
        KpiPeriod.label.in_([period.label for period in periods])))
    return {label: dict(metrics) for label, metrics in rows}


@dataclass(frozen=True)
class ComputeKpiPeriods:
    """Compute and store the figures of the periods that have none stored (run by ``Engine.run``).

    Records cannot change meanwhile: on SQLite the write lock, on PostgreSQL a SHARE lock on ``kpi_record``,
    keeps ``RefreshKpiRecords`` out until this commits; a later refresh deletes what it makes stale."""

    practice: str
    kind: PeriodKind
    periods: tuple[Period, ...]

    def execute(self, ctx: CommandContext) -> dict[str, dict[str, Any]]:
        session = ctx.session
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("LOCK TABLE kpi_record IN SHARE MODE"))
        stored = _stored(session, self.practice, self.kind, self.periods)
        missing: list[list[Period]] = []
        for index, period in enumerate(self.periods):
            if period.label in stored:
                continue
            if missing and index > 0 and self.periods[index - 1] is missing[-1][-1]:
                missing[-1].append(period)
            else:
                missing.append([period])
        for run in missing:  # contiguous runs: a report's periods must cover its span without gaps
            for row in build_report(session, self.practice, self.kind, run).periods:
                metrics = {name: value for name, value in row.metrics.items()}
                session.add(KpiPeriod(practice=self.practice, kind=self.kind.value, label=row.period.label,
                                      start=row.period.start, end=row.period.end, metrics=metrics,
                                      computed_at=ctx.now))
                stored[row.period.label] = metrics
        session.flush()
        return stored


def build_report(session: Session, practice: str, kind: PeriodKind, periods: Sequence[Period]) -> KpiReport:
    """Compute the practice's KPIs for each period from ``kpi_record`` (three SQL aggregates, whatever the span)."""
    rows: list[defaultdict[str, Any]] = [defaultdict(int) for _ in periods]
    for group in queries.counts(session, practice, periods):
        row = rows[group["bucket"]]
        row["closed"] += group["closed"]
        row[CHANGE_TYPES.get(group["process_key"], "other")] += group["closed"]
        for name in queries.SUMMED:
            row[name] += int(group[name] or 0)
        if group["release_outcome"] == DEPLOYED:
            row["deployed"] += group["closed"]
        if group["release_outcome"] == ROLLED_BACK:
            row["release_rolled_back"] += group["closed"]
    closure = queries.quantiles(session, practice, periods, "closure_hours", (MEDIAN, P90))
    authorization = (queries.quantiles(session, practice, periods, "authorization_hours", (MEDIAN, P90))
                     if practice == "change" else {})
    definitions = metrics_of(practice)
    result = []
    for index, period in enumerate(periods):
        figures = _finish(practice, rows[index], closure.get(index, {}), authorization.get(index, {}))
        result.append(PeriodKpis(period, {name: figures.get(name) for name in definitions}))
    return KpiReport(practice, kind, result, dict(definitions))


def _finish(practice: str, row: defaultdict[str, Any], closure: dict[float, float],
            authorization: dict[float, float]) -> dict[str, Value]:
    """The ratios and lead times from the counts."""
    closed = int(row["closed"])
    figures: dict[str, Value] = {name: int(row[name]) for name in (
        "closed", "normal", "standard", "emergency", "other", "implemented", "successful", "backed_out",
        "rolled_back", "authorized", "reworked", "deployed")}
    figures["authorization_sla_breaches"] = int(row["sla_breach"])
    figures["standard_ratio"] = _ratio(int(row["standard"]), closed)
    figures["emergency_ratio"] = _ratio(int(row["emergency"]), closed)
    figures["success_rate"] = _ratio(int(row["successful"]), int(row["implemented"]))
    figures["rework_rate"] = _ratio(int(row["reworked"]), closed)
    figures["authorization_lead_time_median_hours"] = _hours(authorization.get(MEDIAN))
    figures["authorization_lead_time_p90_hours"] = _hours(authorization.get(P90))
    figures["closure_lead_time_median_hours"] = _hours(closure.get(MEDIAN))
    figures["closure_lead_time_p90_hours"] = _hours(closure.get(P90))
    if practice == "release":
        figures["rolled_back"] = int(row["release_rolled_back"])
        figures["changes_per_release"] = round(int(row["linked_changes"]) / closed, 2) if closed else None
    return figures
