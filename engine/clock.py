"""Time sources. The engine never calls ``datetime.now`` directly, so tests can move time by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to; safe to share between threads."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = ensure_utc(start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new time."""
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (which must carry a timezone)."""
        with self._lock:
            self._now = ensure_utc(moment)


def ensure_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; naive datetimes are refused because their zone is a guess."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no timezone")
    return moment.astimezone(UTC)

