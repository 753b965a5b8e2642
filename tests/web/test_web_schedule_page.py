"""The change schedule page: what an empty period means, and a busy day that does not stretch the month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schedule.models import EntryState, ScheduleEntry


def test_an_empty_month_says_nothing_is_scheduled_and_how_changes_get_there(browser: Any, shipped: Any) -> None:
    page = browser("change-manager").get("/schedule?view=month&around=2031-03-01")
    assert page.status == 200
    assert "Nothing is scheduled in this period. A change appears here once it is raised with a planned window" \
        in page.text
    assert "0 scheduled" not in page.text
    filtered = browser("change-manager").get("/schedule?view=month&around=2031-03-01&service=mail")
    assert "Nothing is scheduled in this period for this service." in filtered.text


def test_a_busy_day_of_the_month_shows_four_and_links_the_rest_to_its_week(
        browser: Any, app: Any, shipped: Any) -> None:
    day = datetime(2031, 3, 12, 8, tzinfo=UTC)  # a Wednesday
    with app.extensions["changeflow"].database.transaction() as session:
        for number in range(7):  # windows one after the other, on services of their own: no conflicts
            session.add(ScheduleEntry(
                business_key=f"CHG-9{number:05d}", practice="change", process_key="normal_change",
                title=f"Busy change {number}", service=f"busy-{number}", starts_at=day + timedelta(hours=number),
                ends_at=day + timedelta(hours=number, minutes=30), state=EntryState.AUTHORIZED,
                requested_by="change-practitioner", updated_at=day))
    month = browser("change-manager").get("/schedule?view=month&date=2031-03-01")
    assert month.status == 200
    assert "7 scheduled." in month.text
    assert [f"CHG-9{n:05d}" in month.text for n in range(7)] == [True] * 4 + [False] * 3
    assert '<a href="/schedule?view=week&amp;date=2031-03-12">+3 more</a>' in month.text
    week = browser("change-manager").get("/schedule?view=week&date=2031-03-12")
    assert all(f"CHG-9{n:05d}" in week.text for n in range(7)) and "more</a>" not in week.text
