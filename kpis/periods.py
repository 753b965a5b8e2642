"""Reporting periods: calendar months, or ISO weeks (Monday to Monday), in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

EARLIEST, LATEST = date(1970, 1, 1), date(9000, 12, 31)  # days a report may name (no calendar overflow)
MAX_PERIODS = 60  # five years of months: a report is a few queries whatever its length, but bounded
DEFAULT_PERIODS = 6


class PeriodKind(StrEnum):
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Period:
    """One reporting period, ``[start, end)``."""

    label: str  # 2026-11 or 2026-W47
    start: datetime
    end: datetime


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def period_of(kind: PeriodKind, day: date) -> Period:
    """The period that holds ``day``."""
    if kind is PeriodKind.WEEK:
        monday = day - timedelta(days=day.weekday())
        year, week, _ = monday.isocalendar()
        return Period(f"{year}-W{week:02d}", _midnight(monday), _midnight(monday + timedelta(days=7)))
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(f"{first:%Y-%m}", _midnight(first), _midnight(following))


def periods_between(kind: PeriodKind, first_day: date, last_day: date) -> list[Period]:
    """The periods from the one holding ``first_day`` to the one holding ``last_day``, oldest first.

    Raises ``ValueError`` when ``last_day`` is before ``first_day`` or the span exceeds ``MAX_PERIODS``."""
    if not (EARLIEST <= first_day <= LATEST and EARLIEST <= last_day <= LATEST):
        raise ValueError(f"Name days from {EARLIEST} to {LATEST}.")
    if last_day < first_day:
        raise ValueError("'to' must not be before 'from'.")
    found = [period_of(kind, first_day)]
    last = period_of(kind, last_day)
    while found[-1].start < last.start:
        if len(found) >= MAX_PERIODS:
            raise ValueError(f"At most {MAX_PERIODS} periods at once; shorten the span or use months.")
        found.append(period_of(kind, found[-1].end.date()))
    return found


def recent_periods(kind: PeriodKind, today: date, count: int = DEFAULT_PERIODS) -> list[Period]:
    """The ``count`` periods ending with the one holding ``today``."""
    current = period_of(kind, today)
    found = [current]
    while len(found) < count:
        found.insert(0, period_of(kind, found[0].start.date() - timedelta(days=1)))
    return found
