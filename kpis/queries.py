"""The SQL behind a report: aggregates over ``kpi_record`` for one practice and a span of periods.

Each query covers the whole span at once and buckets records into periods with a ``CASE`` over the period
bounds (portable: no date functions of one dialect). Percentiles are taken in SQL with window functions: only
the two records around each wanted rank come back, whatever the number of records.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from kpis.models import KpiRecord
from kpis.periods import Period

SUMMED = ("implemented", "successful", "backed_out", "rolled_back", "authorized", "sla_breach", "reworked",
          "linked_changes")


def _bucket(periods: Sequence[Period]) -> ColumnElement[int]:
    """The index of the period a record closed in (records are already limited to the whole span)."""
    if len(periods) == 1:
        return literal(0)
    return case(*((KpiRecord.ended_at < period.end, index) for index, period in enumerate(periods[:-1])),
                else_=literal(len(periods) - 1))


def _in_span(practice: str, periods: Sequence[Period]) -> tuple[ColumnElement[bool], ...]:
    return (KpiRecord.practice == practice, KpiRecord.ended_at >= periods[0].start,
            KpiRecord.ended_at < periods[-1].end)


def counts(session: Session, practice: str, periods: Sequence[Period]) -> list[dict[str, Any]]:
    """Per (period, process, release outcome): the number of records and the sum of each flag."""
    bucket = _bucket(periods).label("bucket")
    inner = select(bucket, KpiRecord.process_key, KpiRecord.release_outcome,
                   *(getattr(KpiRecord, name) for name in SUMMED)).where(*_in_span(practice, periods)).subquery()
    keys = (inner.c.bucket, inner.c.process_key, inner.c.release_outcome)
    statement = select(*keys, func.count().label("closed"),
                       *(func.sum(inner.c[name]).label(name) for name in SUMMED)).group_by(*keys)
    return [dict(row._mapping) for row in session.execute(statement)]


def quantiles(session: Session, practice: str, periods: Sequence[Period], column: str,
              fractions: Sequence[float]) -> dict[int, dict[float, float]]:
    """Per period: each fraction's quantile of ``column`` (linear interpolation between closest ranks, as
    PostgreSQL's ``percentile_cont``), over the records where it has a value."""
    value = getattr(KpiRecord, column)
    bucket = _bucket(periods)
    ranked = (select(bucket.label("bucket"), value.label("value"),
                     func.row_number().over(partition_by=bucket, order_by=value).label("rank"),
                     func.count().over(partition_by=bucket).label("n"))
              .where(*_in_span(practice, periods), value.is_not(None)).subquery())
    near = or_(*(func.abs((ranked.c.rank - 1) - fraction * (ranked.c.n - 1)) < 1 for fraction in fractions))
    found: dict[int, dict[int, float]] = defaultdict(dict)
    sizes: dict[int, int] = {}
    for index, amount, rank, n in session.execute(select(ranked.c.bucket, ranked.c.value, ranked.c.rank,
                                                         ranked.c.n).where(near)):
        found[index][rank - 1] = amount
        sizes[index] = n
    result: dict[int, dict[float, float]] = {}
    for index, values in found.items():
        result[index] = {}
        for fraction in fractions:
            position = fraction * (sizes[index] - 1)
            lower, upper = math.floor(position), math.ceil(position)
            result[index][fraction] = values[lower] + (values[upper] - values[lower]) * (position - lower)
    return result
