"""The harness itself: a failing step must say which step failed and what the API answered."""

from __future__ import annotations

import pytest

from tests.processes.harness import StepFailed, TimerNotFired, TrailMismatch
from tests.processes.samples import REQUEST, STANDARD_REQUEST


def test_a_refused_completion_names_the_step_and_shows_the_answer(start):
    run = start("normal_change", as_="change-practitioner", data=REQUEST)
    with pytest.raises(StepFailed) as failure:
        run.complete("assess_change", as_="change-manager", assessment_decision="maybe")
    message = str(failure.value)
    assert f"{run.business_key} (normal_change), step 2: complete assess_change as change-manager" in message
    assert f"POST /api/tasks/{run.task('assess_change')['id']}/complete as change-manager answered 422" in message
    assert '"assessment_decision"' in message  # the field errors of the answer
    assert "after: start normal_change as change-practitioner" in message


def test_unexpected_tasks_and_audiences_are_listed(start):
    run = start("normal_change", as_="change-practitioner", data=REQUEST)
    with pytest.raises(StepFailed) as failure:
        run.expect_tasks({"authorize_change": "change-manager"})
    message = str(failure.value)
    assert "authorize_change: expected {change-manager}, not open" in message
    assert "assess_change: expected not open, seen by {change-manager}" in message
    with pytest.raises(StepFailed, match=r"assess_change: expected \{change-owner\}, seen by \{change-manager\}"):
        run.expect_tasks({"assess_change": "change-owner"})


def test_a_different_trail_is_shown_side_by_side(start):
    run = start("normal_change", as_="change-practitioner", data=REQUEST)
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    with pytest.raises(TrailMismatch) as failure:
        run.expect_trail(("started", "change-practitioner"), ("completed", "change-owner", "assess_change"))
    message = str(failure.value)
    assert "    0  expected ('started', 'change-practitioner')  got ('started', 'change-practitioner', None)" in message
    assert "!!  1  expected ('completed', 'change-owner', 'assess_change')" in message


def test_wrong_data_is_listed_field_by_field(start):
    run = start("normal_change", as_="change-practitioner", data=REQUEST)
    with pytest.raises(StepFailed) as failure:
        run.expect_data(risk="high", closure_code=None)
    assert "  risk: expected 'high', got 'low'\n  closure_code: expected None, got '<missing>'" in str(failure.value)


def test_a_timer_that_does_not_fire_is_reported(start, app_engine, monkeypatch):
    run = start("standard_change", as_="change-practitioner", data=STANDARD_REQUEST)
    monkeypatch.setattr(app_engine, "fire_due_timers", lambda: 0)  # as if the engine failed to fire it
    with pytest.raises(TimerNotFired, match="the timer due at 2026-01-12T09:00:00[+]00:00 did not fire"):
        run.advance(days=8)
