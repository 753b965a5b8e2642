"""A practice's KPIs per period: the figures from ``kpis.queries``, put together, and their CSV form."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from kpis import queries
from kpis.definitions import BACKED_OUT, CHANGE_TYPES, DEPLOYED, POPULATION, ROLLED_BACK, SUCCESSFUL, metrics_of
from kpis.periods import Period, PeriodKind

Value = int | float | None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile with linear interpolation between closest ranks (PostgreSQL's
    ``percentile_cont``); None for no values."""
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


def build_report(session: Session, practice: str, kind: PeriodKind, periods: Sequence[Period]) -> KpiReport:
    """Compute the practice's KPIs for each period (a handful of SQL aggregates, whatever the span)."""
    closed = queries.closed_instances(practice, periods)
    rows: list[defaultdict[str, Any]] = [defaultdict(int) for _ in periods]
    for bucket, process_key, outcome, closure_code, release_outcome, count in queries.counts(session, closed):
        row = rows[bucket]
        row["closed"] += count
        kind_of_change = CHANGE_TYPES.get(process_key, "other")
        row[kind_of_change] += count
        if outcome is not None:
            row["implemented"] += count
        if outcome == SUCCESSFUL:
            row["successful"] += count
        if BACKED_OUT in (outcome, closure_code):
            row["backed_out"] += count
        if release_outcome == DEPLOYED:
            row["deployed"] += count
        if release_outcome == ROLLED_BACK:
            row["release_rolled_back"] += count
    closure: dict[int, list[float]] = defaultdict(list)
    for bucket, hours in queries.closure_hours(session, closed):
        closure[bucket].append(hours)
    if practice == "change":
        _change_figures(session, closed, rows)
    elif practice == "release":
        for bucket, linked in queries.linked_changes(session, practice, periods).items():
            rows[bucket]["linked"] = linked
    definitions = metrics_of(practice)
    result = []
    for index, period in enumerate(periods):
        figures = _finish(practice, rows[index], closure.get(index, []))
        result.append(PeriodKpis(period, {name: figures.get(name) for name in definitions}))
    return KpiReport(practice, kind, result, dict(definitions))


def _change_figures(session: Session, closed: Any, rows: list[defaultdict[str, Any]]) -> None:
    authorization: dict[int, list[float]] = defaultdict(list)
    for bucket, authorized, hours, late in queries.authorizations(session, closed):
        row = rows[bucket]
        row["authorization_sla_breaches"] += late
        if authorized:
            row["authorized"] += 1
            authorization[bucket].append(hours)
    for bucket, hours_list in authorization.items():
        rows[bucket]["authorization_lead_time_median_hours"] = _hours(percentile(hours_list, 0.5))
        rows[bucket]["authorization_lead_time_p90_hours"] = _hours(percentile(hours_list, 0.9))
    for bucket, count in queries.reworked(session, closed).items():
        rows[bucket]["reworked"] = count
    for bucket, count in queries.rolled_back(session, closed).items():
        rows[bucket]["rolled_back"] = count


def _finish(practice: str, row: defaultdict[str, Any], closure: list[float]) -> dict[str, Value]:
    """The ratios and lead times from the counts."""
    closed = int(row.get("closed") or 0)
    figures: dict[str, Value] = {name: int(row.get(name) or 0) for name in (
        "closed", "normal", "standard", "emergency", "other", "implemented", "successful", "backed_out",
        "rolled_back", "authorized", "authorization_sla_breaches", "reworked", "deployed")}
    figures["standard_ratio"] = _ratio(int(figures["standard"] or 0), closed)
    figures["emergency_ratio"] = _ratio(int(figures["emergency"] or 0), closed)
    figures["success_rate"] = _ratio(int(figures["successful"] or 0), int(figures["implemented"] or 0))
    figures["rework_rate"] = _ratio(int(figures["reworked"] or 0), closed)
    figures["authorization_lead_time_median_hours"] = row.get("authorization_lead_time_median_hours")
    figures["authorization_lead_time_p90_hours"] = row.get("authorization_lead_time_p90_hours")
    figures["closure_lead_time_median_hours"] = _hours(percentile(closure, 0.5))
    figures["closure_lead_time_p90_hours"] = _hours(percentile(closure, 0.9))
    if practice == "release":
        figures["rolled_back"] = int(row.get("release_rolled_back") or 0)
        figures["changes_per_release"] = round(int(row.get("linked") or 0) / closed, 2) if closed else None
    return figures
