"""The engine's clocks keep time in UTC and refuse a moment whose zone would be a guess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine import FakeClock, SystemClock


@pytest.mark.parametrize("act", [lambda: FakeClock(datetime(2026, 1, 5, 9, 0)),
                                 lambda: FakeClock().set(datetime(2026, 1, 5, 9, 0))], ids=["start", "set"])
def test_a_naive_moment_is_refused(act):
    with pytest.raises(ValueError, match="2026-01-05T09:00:00 has no timezone"):
        act()


def test_moments_with_an_offset_are_kept_in_utc():
    clock = FakeClock(datetime(2026, 1, 5, 10, 0, tzinfo=timezone(timedelta(hours=1))))

    assert clock.now() == datetime(2026, 1, 5, 9, 0, tzinfo=UTC) and clock.now().tzinfo is UTC
    assert clock.advance(timedelta(minutes=5)) == datetime(2026, 1, 5, 9, 5, tzinfo=UTC)
    assert SystemClock().now().tzinfo is UTC
