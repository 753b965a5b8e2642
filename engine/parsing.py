"""SpiffWorkflow's parser, with our timers plugged in through its parser-override table."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, IntermediateCatchEvent, StartEvent
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.timers import clocked


class _ClockedTimers:
    """Mixin for event parsers: every timer they create reads the engine's clock."""

    def parse_timer_event(self, event: Any) -> Any:
        return clocked(super().parse_timer_event(event))  # type: ignore[misc]


class _StartEventParser(_ClockedTimers, SpiffStartEventParser):
    """Start events, whose timers delay a start."""


class _IntermediateCatchEventParser(_ClockedTimers, SpiffIntermediateCatchEventParser):
    """Intermediate catch events: timers to a date or after a duration."""


class _BoundaryEventParser(_ClockedTimers, SpiffBoundaryEventParser):
    """Boundary events: SLA timers on tasks."""


class BpmnParser(SpiffBpmnParser):
    """The parser the engine uses for deploys and for rebuilding cached specs."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (_StartEventParser, StartEvent),
        full_tag("intermediateCatchEvent"): (_IntermediateCatchEventParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (_BoundaryEventParser, BoundaryEvent),
    }
