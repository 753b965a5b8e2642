"""Timer event definitions that read the engine's clock instead of ``datetime.now``.

SpiffWorkflow's timers compare against the wall clock, which makes SLA paths untestable without
sleeping. These subclasses take "now" from the workflow's script engine, which the engine builds
around its injected clock. They also accept a bare ISO 8601 literal (``PT48H``) as well as a quoted
one, so the most common authoring mistake does not stop an instance at run time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

_ISO_LITERAL = re.compile(r"^(R\d*/.+|P[0-9YMWDTHS.,]+|\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?(Z|[+-]\d{2}:?\d{2})?)$")


def _now(my_task: Any) -> datetime:
    moment: datetime = my_task.workflow.script_engine.now()
    return moment


MAX_DURATION_DAYS = 36_525  # 100 years: longer durations are mistakes, and the library computes them month by month


def parse_duration(text: str) -> dict[str, Any]:
    """An ISO 8601 duration's components; ``ValueError`` when it does not parse or is over 100 years.

    The library adds up a duration's months one by one, so ``P99999999Y`` would hold a command (and the
    database's write lock) for most of an hour: the bound is checked from the components, before that.
    """
    try:
        parsed = TimerEventDefinition.parse_iso_duration(text)
    except Exception as error:  # the library raises bare Exception for bad durations
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT4H or P2D") from error
    days = (parsed.get("years", 0) * 366 + parsed.get("months", 0) * 31 + parsed.get("weeks", 0) * 7
            + parsed.get("days", 0) + parsed.get("hours", 0) / 24 + parsed.get("minutes", 0) / 1440
            + parsed.get("seconds", 0) / 86_400)
    if days > MAX_DURATION_DAYS:
        raise ValueError(f"the duration '{text}' is longer than 100 years")
    return dict(parsed)


def duration_from(text: str, start: datetime) -> timedelta:
    """The bounded duration ``text`` measured from ``start`` (months and years have their real lengths)."""
    duration: timedelta = TimerEventDefinition.get_timedelta_from_start(parse_duration(text), start)
    return duration


def check_cycle(text: str) -> None:
    """``ValueError`` unless ``text`` is an ISO 8601 repeating interval whose durations are bounded."""
    for part in text.upper().replace("--", "/").split("/")[1:]:
        if part.startswith("P"):
            parse_duration(part)
    try:
        TimerEventDefinition.parse_iso_recurring_interval(text)
    except Exception as error:  # the library raises bare Exception for bad intervals
        raise ValueError(f"'{text}' is not an ISO 8601 repeating interval such as R3/PT1H") from error


def literal_text(expression: str) -> str | None:
    """The ISO text of a literal timer expression, quoted or bare; None for other expressions."""
    text = expression.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    candidate = text.upper() if text.upper().startswith(("P", "R")) else text
    return candidate if _ISO_LITERAL.match(candidate) else None


def timer_value(my_task: Any, expression: str) -> str:
    """The timer's ISO 8601 text: the expression itself when it is a literal, else its value."""
    literal = literal_text(expression)
    if literal is not None:
        return literal
    value = my_task.workflow.script_engine.evaluate(my_task, expression.strip())
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()
    if isinstance(value, timedelta):
        return f"PT{int(value.total_seconds())}S"
    return str(value)


def due_at(event_value: Any) -> datetime | None:
    """When a waiting timer is due, from the ``event_value`` its task stores."""
    if isinstance(event_value, dict):  # a cycle: the next occurrence, unless all cycles ran
        return datetime.fromisoformat(event_value["next"]) if event_value.get("cycles") else None
    if isinstance(event_value, str):
        moment: datetime = TimerEventDefinition.get_datetime(event_value)
        return moment
    return None


def _timer_failed(my_task: Any, error: Exception) -> WorkflowTaskException:
    """A timer whose value is unusable (an expression gave 'P999999999Y', or text that is no date) is an
    incident on its event, like a failing script, not an error of the command."""
    return WorkflowTaskException(f"The timer's value is unusable: {error}", task=my_task, exception=error)


class ClockedTimeDate(TimeDateEventDefinition):
    """A timer to a date, e.g. ``planned_start``."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            text = timer_value(my_task, self.expression)
            try:
                event_value = TimerEventDefinition.get_datetime(text).isoformat()
            except (ValueError, OverflowError, TypeError) as error:
                raise _timer_failed(my_task, error) from error
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockedDuration(DurationTimerEventDefinition):
    """A timer that fires a duration after it starts waiting, e.g. an SLA of ``PT48H``."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            start = _now(my_task)
            text = timer_value(my_task, self.expression)
            try:
                event_value = (start + duration_from(text, start)).isoformat()
            except (ValueError, OverflowError) as error:
                raise _timer_failed(my_task, error) from error
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockedCycle(CycleTimerEventDefinition):
    """A repeating timer (``R3/PT1H``), e.g. reminders while a task stays open."""

    def cycle_complete(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        now = _now(my_task)
        if event_value is None:
            text = timer_value(my_task, self.expression)
            try:
                check_cycle(text)
                cycles, start, duration = self._parse_cycle(text, now)
            except (ValueError, OverflowError) as error:
                raise _timer_failed(my_task, error) from error
            event_value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
        ready = False
        if event_value["cycles"] != 0:
            next_event = datetime.fromisoformat(event_value["next"])
            if next_event <= now:
                event_value["next"] = (next_event + timedelta(seconds=event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready

    @staticmethod
    def _parse_cycle(expression: str, now: datetime) -> tuple[int, datetime, timedelta]:
        components = expression.upper().replace("--", "/").strip("R").split("/")
        if len(components) == 2 and components[1].startswith("P"):
            # "R3/PT1H": the library would start from the wall clock; start from ours instead.
            cycles = int(components[0]) if components[0] else -1
            duration = duration_from(components[1], now)
            return cycles, now + duration, duration
        recurring: tuple[int, datetime, timedelta] = TimerEventDefinition.parse_iso_recurring_interval(expression)
        return recurring


CLOCKED = {
    TimeDateEventDefinition: ClockedTimeDate,
    DurationTimerEventDefinition: ClockedDuration,
    CycleTimerEventDefinition: ClockedCycle,
}


def clocked(definition: TimerEventDefinition) -> TimerEventDefinition:
    """The clocked equivalent of a timer definition the parser produced."""
    replacement = CLOCKED.get(type(definition))
    if replacement is None:
        return definition
    return replacement(definition.name, definition.expression, description=definition.description)
