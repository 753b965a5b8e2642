"""The change schedule page says what an empty period means instead of showing a bare count."""

from __future__ import annotations

from typing import Any


def test_an_empty_month_says_nothing_is_scheduled_and_how_changes_get_there(browser: Any, shipped: Any) -> None:
    page = browser("change-manager").get("/schedule?view=month&around=2031-03-01")
    assert page.status == 200
    assert "Nothing is scheduled in this period. A change appears here once it is raised with a planned window" \
        in page.text
    assert "0 scheduled" not in page.text
    filtered = browser("change-manager").get("/schedule?view=month&around=2031-03-01&service=mail")
    assert "Nothing is scheduled in this period for this service." in filtered.text
