"""Weekly maintenance windows: checking their definitions and whether a change's window falls inside one.

A maintenance window is ``{"days": ["sun"], "start": "02:00", "end": "06:00"}`` in UTC. An end at or before the
start means the window runs past midnight into the next day (``"22:00"`` to ``"02:00"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class WeeklyWindow:
    """One recurring window: on each of ``days`` (0 = Monday), from ``start`` for ``length``."""

    days: frozenset[int]
    start: time
    length: timedelta

    def occurrences(self, around: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The occurrences that may contain ``around``: those starting on its day or the day before."""
        for offset in (1, 0):
            day = (around - timedelta(days=offset)).date()
            if day.weekday() in self.days:
                begins = datetime.combine(day, self.start, tzinfo=UTC)
                yield begins, begins + self.length

    def describe(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.days))
        ends = (datetime.combine(datetime.min.date(), self.start) + self.length).time()
        return f"{days} {self.start:%H:%M}-{ends:%H:%M} UTC"


# A window as a person types it: the days, then the hours in UTC, "sat,sun 06:00-10:00" (or "sat,sun@06:00-10:00",
# one shell word, as the CLI's --window takes it).
_TYPED = re.compile(r"^(?P<days>[a-z]{3}(?:\s*,\s*[a-z]{3})*)(?:\s+|\s*@\s*)"
                    r"(?P<start>\d\d:\d\d)\s*-\s*(?P<end>\d\d:\d\d)$")


def window_from_text(text: str) -> dict[str, Any] | None:
    """A window typed as ``sat,sun 06:00-10:00`` (or ``sat,sun@06:00-10:00``) in the stored form, ``{"days",
    "start", "end"}``, or None when it is not written so. The days and hours are checked where it is used."""
    found = _TYPED.match(text.strip().lower())
    if found is None:
        return None
    return {"days": [day.strip() for day in found["days"].split(",")], "start": found["start"], "end": found["end"]}


def window_problems(raw: object) -> list[str]:
    """Why ``raw`` is not a valid list of maintenance windows (empty when it is)."""
    if not isinstance(raw, list):
        return ["Give a list of windows like {\"days\": [\"sun\"], \"start\": \"02:00\", \"end\": \"06:00\"}."]
    problems = []
    for index, window in enumerate(raw):
        where = f"Window {index + 1}"
        if not isinstance(window, Mapping) or set(window) != {"days", "start", "end"}:
            problems.append(f"{where}: give exactly 'days', 'start' and 'end'.")
            continue
        days = window["days"]
        if not isinstance(days, list) or not days or any(day not in DAYS for day in days):
            problems.append(f"{where}: 'days' must list some of {', '.join(DAYS)}.")
        for bound in ("start", "end"):
            if not isinstance(window[bound], str) or not _CLOCK.match(window[bound]):
                problems.append(f"{where}: '{bound}' must be a time of day as HH:MM (UTC).")
    return problems


def parse_windows(raw: Iterable[Mapping[str, Any]]) -> list[WeeklyWindow]:
    """The stored definitions (already checked by ``window_problems``) as ``WeeklyWindow`` objects."""
    windows = []
    for window in raw:
        start = time.fromisoformat(window["start"])
        end = time.fromisoformat(window["end"])
        length = datetime.combine(datetime.min.date(), end) - datetime.combine(datetime.min.date(), start)
        if length <= timedelta(0):
            length += timedelta(days=1)
        windows.append(WeeklyWindow(frozenset(DAYS.index(day) for day in window["days"]), start, length))
    return windows


def inside_maintenance(windows: Iterable[WeeklyWindow], starts_at: datetime, ends_at: datetime) -> bool:
    """Whether ``[starts_at, ends_at]`` lies wholly inside one occurrence of one of ``windows``."""
    return any(begins <= starts_at and ends_at <= finishes
               for window in windows for begins, finishes in window.occurrences(starts_at))
