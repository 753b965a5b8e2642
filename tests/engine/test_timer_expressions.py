"""Timer expressions that compute their moment (docs/authoring-processes.md, Timers): a datetime, a date or a
timedelta from a script expression is turned into the due time on the engine's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import EventType, InstanceStatus
from tests.engine.builder import diagram, end_event, flows, start_event, timer_catch, user_task
from tests.engine.support import deploy, event_types, start

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the FakeClock's start


def _waiting(kind: str, expression: str) -> str:
    return diagram(start_event() + timer_catch("pause", kind, expression) + user_task("act", "Act") + end_event()
                   + flows("start", "pause", "act", "end"), {"Practitioner": ["act"]})


@pytest.mark.parametrize("kind, expression, due", [
    ("timeDate", "now() + timedelta(hours=2)", START + timedelta(hours=2)),
    ("timeDate", "datetime(2026, 1, 5, 12, 30)", datetime(2026, 1, 5, 12, 30, tzinfo=UTC)),  # naive: UTC
    ("timeDate", "datetime(2026, 1, 5, 12, 30, tzinfo=timezone(timedelta(hours=2)))",
     datetime(2026, 1, 5, 10, 30, tzinfo=UTC)),
    ("timeDate", "today() + timedelta(days=1)", datetime(2026, 1, 6, tzinfo=UTC)),  # a date: its midnight, UTC
    ("timeDuration", "timedelta(minutes=90)", START + timedelta(minutes=90)),
    ("timeDuration", "'PT' + str(hours) + 'H'", START + timedelta(hours=3)),
], ids=["aware-datetime", "naive-datetime", "offset-datetime", "date", "timedelta", "built-text"])
def test_a_computed_timer_is_due_when_its_expression_says(engine, clock, kind, expression, due):
    deploy(engine, _waiting(kind, expression))

    instance = start(engine, data={"hours": 3})

    assert instance.status is InstanceStatus.WAITING, instance.incident
    assert engine.instance_view(instance.id).next_timer_at == due
    assert engine.fire_due_timers(due - timedelta(seconds=1)) == 0
    clock.set(due)
    assert engine.fire_due_timers() == 1
    view = engine.instance_view(instance.id)
    assert [task.element_id for task in view.tasks] == ["act"] and view.next_timer_at is None
    assert EventType.TIMER_FIRED in event_types(engine, instance.id)


def test_a_cycle_with_an_explicit_start_fires_from_that_start(engine, clock):
    first = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    deploy(engine, diagram(start_event() + timer_catch("tick", "timeCycle", "R2/2026-01-05T10:00:00Z/PT1H")
                           + end_event() + flows("start", "tick", "end")))

    instance = start(engine)

    assert instance.status is InstanceStatus.WAITING
    assert engine.instance_view(instance.id).next_timer_at == first
    assert engine.fire_due_timers(first - timedelta(seconds=1)) == 0
    clock.set(first)
    assert engine.fire_due_timers() == 1
    assert engine.instance_view(instance.id).next_timer_at == first + timedelta(hours=1)
