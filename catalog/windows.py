"""Allowed windows: when, in the week, a standard change may be carried out (in UTC).

A window is ``{"days": ["mon", "tue"], "start": "22:00", "end": "23:59"}``: on each of those days, from
``start`` to ``end`` of the same day. A planned change fits a window when it starts and ends on one of its
days, within its hours. Windows do not cross midnight: a night window is two windows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from schedule.windows import window_from_text

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOUR = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass(frozen=True)
class Window:
    days: tuple[str, ...]
    start: time
    end: time

    def fits(self, planned_start: datetime, planned_end: datetime) -> bool:
        """Whether the planned work lies wholly inside this window (both moments in UTC)."""
        if planned_start.date() != planned_end.date() or DAYS[planned_start.weekday()] not in self.days:
            return False
        return self.start <= planned_start.time() and planned_end.time() <= self.end

    def describe(self) -> str:
        return f"{','.join(self.days)} {self.start:%H:%M}-{self.end:%H:%M} UTC"


def parse_windows(raw: Any) -> tuple[list[Window], list[str]]:
    """The windows in ``raw`` and the problems found (one message per bad window)."""
    if not isinstance(raw, list) or not raw:
        return [], ["Give at least one window: {\"days\": [\"mon\"], \"start\": \"HH:MM\", \"end\": \"HH:MM\"}."]
    windows, problems = [], []
    for index, item in enumerate(raw):
        where = f"Window {index + 1}"
        if not isinstance(item, dict) or set(item) != {"days", "start", "end"}:
            problems.append(f"{where}: give exactly 'days', 'start' and 'end'.")
            continue
        days, start, end = item["days"], item["start"], item["end"]
        if not isinstance(days, list) or not days or any(day not in DAYS for day in days):
            problems.append(f"{where}: 'days' must list some of {', '.join(DAYS)}.")
            continue
        if not (isinstance(start, str) and _HOUR.match(start) and isinstance(end, str) and _HOUR.match(end)):
            problems.append(f"{where}: 'start' and 'end' are times of day as HH:MM (UTC).")
            continue
        opening, closing = time.fromisoformat(start), time.fromisoformat(end)
        if closing <= opening:
            problems.append(f"{where}: 'end' must be after 'start' on the same day (split a night window in two).")
            continue
        windows.append(Window(tuple(day for day in DAYS if day in days), opening, closing))
    return windows, problems


def windows_from_lines(lines: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Windows typed one per line (``sat,sun 06:00-10:00``, in UTC) as ``parse_windows`` takes them, and the
    lines that are not written so; ``parse_windows`` then checks the days and hours."""
    windows, problems = [], []
    for number, line in enumerate(lines, start=1):
        window = window_from_text(line)
        if window is None:
            problems.append(f"Line {number} ('{line.strip()}'): write a window as DAYS HH:MM-HH:MM, for example "
                            "sat,sun 06:00-10:00 (UTC).")
            continue
        windows.append(window)
    return windows, problems


def as_json(windows: Sequence[Window]) -> list[dict[str, Any]]:
    """The windows as stored and shown."""
    return [{"days": list(window.days), "start": f"{window.start:%H:%M}", "end": f"{window.end:%H:%M}"}
            for window in windows]
