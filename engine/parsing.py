"""SpiffWorkflow's parser, with our extensions plugged in through its parser-override table.

- Timers read the engine's clock.
- Camunda (and Zeebe) attributes that the library ignores are kept as task extensions, so that diagrams
  drawn in those modelers keep their meaning: ``camunda:candidateGroups`` names a task's role, and
  ``camunda:type="external" camunda:topic="..."`` (or ``zeebe:taskDefinition type="..."``, or our own
  ``externalTopic`` property) makes a service task an external task that workers fetch by topic.
- A few library validation calls pass an argument the library itself does not accept; they are routed to
  a working version so that the author reads the real reason, not a ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    StartEvent,
)
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffEndEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffIntermediateThrowEventParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import (
    BusinessRuleTaskParser,
    ServiceTaskParser,
    SpiffTaskParser,
    UserTaskParser,
)
from SpiffWorkflow.spiff.specs.defaults import (
    BusinessRuleTask,
    ManualTask,
    NoneTask,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
    ServiceTask,
)
from SpiffWorkflow.spiff.specs.defaults import UserTask as SpiffUserTask
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask

from engine.interop import FORM_KEY_EXTENSION
from engine.timers import clocked

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
EXTERNAL_TOPIC_PROPERTY = "externalTopic"
ROLE_PROPERTY = "role"
MAX_INSTANCES = 200  # parallel or sequential multi-instance: the library's cost grows with its square


class _BoundedInstances:
    """A multi-instance task over a data collection runs at most ``MAX_INSTANCES`` instances.

    ``loopCardinality`` is bounded at deploy (and when computed); a collection's size is known only when the
    task is reached, so it is checked then, before any instance exists: more items stop the instance with an
    incident naming the task.
    """

    data_input: Any
    bpmn_id: str

    def _check_size(self, my_task: Any) -> None:
        items = self.data_input.get(my_task) if self.data_input is not None else None
        if isinstance(items, Sized) and not isinstance(items, str) and len(items) > MAX_INSTANCES:
            raise WorkflowTaskException(
                f"The input collection of '{self.bpmn_id}' has {len(items)} items; a multi-instance task may have "
                f"at most {MAX_INSTANCES} instances. Split the work, or loop over batches.", task=my_task)


class BoundedParallelMultiInstanceTask(_BoundedInstances, ParallelMultiInstanceTask):
    """The library's parallel multi-instance task, bounded before it creates its instances."""

    def create_children(self, my_task: Any) -> Any:
        self._check_size(my_task)
        return super().create_children(my_task)


class BoundedSequentialMultiInstanceTask(_BoundedInstances, SequentialMultiInstanceTask):
    """The library's sequential multi-instance task, bounded before it lists the items to go through."""

    def init_remaining_items(self, my_task: Any) -> Any:
        self._check_size(my_task)
        return super().init_remaining_items(my_task)


class ExternalServiceTask(SpiffBpmnTask):
    """A service task that a worker outside the engine carries out: it waits until a worker completes it.

    Like a user task it is ``manual`` (the engine never runs it by itself); the engine lists the ready
    ones in the external-task queue, by ``topic``.
    """

    def __init__(self, wf_spec: Any, bpmn_id: str, topic: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic
        self.manual = True


def _camunda_extensions(node: Any) -> dict[str, Any]:
    """The Camunda attributes of a task that mean something to Changeflow."""
    found: dict[str, Any] = {}
    groups = node.get(f"{{{CAMUNDA}}}candidateGroups")
    if groups:
        found["candidateGroups"] = groups
    form_key = node.get(f"{{{CAMUNDA}}}formKey")
    if form_key:
        found[FORM_KEY_EXTENSION] = form_key  # mapped to the task's form (engine.interop)
    if node.get(f"{{{CAMUNDA}}}type") is not None:
        found["camundaType"] = node.get(f"{{{CAMUNDA}}}type")
    if node.get(f"{{{CAMUNDA}}}topic") is not None:
        found["camundaTopic"] = node.get(f"{{{CAMUNDA}}}topic")
    for definition in node.iter(f"{{{ZEEBE}}}taskDefinition"):
        if definition.get("type"):
            found["zeebeType"] = definition.get("type")
    return found


def external_topic(extensions: dict[str, Any]) -> str | None:
    """The topic of an external service task, from our property or the Camunda/Zeebe attributes."""
    properties = extensions.get("properties") or {}
    topic = (properties.get(EXTERNAL_TOPIC_PROPERTY) or "").strip()
    if topic:
        return topic
    if extensions.get("camundaType") == "external" or extensions.get("camundaTopic"):
        return (extensions.get("camundaTopic") or "").strip()
    return (extensions.get("zeebeType") or "").strip() or None


class _FixedValidation:
    """The library's event parsers call ``raise_validation_exception(message, node=...)``, which its own
    base class does not accept; the author would read a TypeError instead of the reason."""

    node: Any
    filename: Any

    def raise_validation_exception(self, message: str, node: Any = None) -> None:
        raise ValidationException(message, node=node if node is not None else self.node, file_name=self.filename)


class _CamundaAttributes(_FixedValidation):
    """Task parsers that keep the Camunda attributes among the task's extensions."""

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        node = self.node if node is None else node
        return {**SpiffTaskParser._parse_extensions(node), **_camunda_extensions(node)}


class _TaskParser(_CamundaAttributes, SpiffTaskParser):
    """Manual and plain tasks."""


class _UserTaskParser(_CamundaAttributes, UserTaskParser):
    """User tasks."""


class _ServiceTaskParser(_CamundaAttributes, ServiceTaskParser):
    """Service tasks: a registered Python service, or an external task that workers fetch by topic."""

    def create_task(self) -> Any:
        extensions = self.parse_extensions()
        topic = external_topic(extensions)
        if topic is not None:
            if not topic:
                self.raise_validation_exception(
                    "The external service task has no topic: set camunda:topic (or the property "
                    f"'{EXTERNAL_TOPIC_PROPERTY}') to the topic its workers fetch.")
            return ExternalServiceTask(self.spec, self.bpmn_id, topic=topic, prescript=extensions.get("preScript"),
                                       postscript=extensions.get("postScript"), **self.bpmn_attributes)
        if extensions.get("serviceTaskOperator") is None:
            self.raise_validation_exception(
                "The service task says nothing about what runs it. Either call a registered service "
                "(spiffworkflow:serviceTaskOperator id=\"...\") or make it an external task for workers: "
                f"the property '{EXTERNAL_TOPIC_PROPERTY}' with a topic, or camunda:type=\"external\" "
                "camunda:topic=\"...\".")
        return super().create_task()


class _BusinessRuleTaskParser(_FixedValidation, BusinessRuleTaskParser):
    """Business rule tasks: Camunda's ``camunda:decisionRef`` names the decision as well as our extension."""

    def create_task(self) -> Any:
        extensions = SpiffTaskParser._parse_extensions(self.node)
        camunda_ref = self.node.get(f"{{{CAMUNDA}}}decisionRef")
        if camunda_ref and not extensions.get("calledDecisionId"):
            task = BusinessRuleTask(self.spec, self.bpmn_id,
                                    dmnEngine=self.process_parser.parser.get_engine(camunda_ref, self.node),
                                    prescript=extensions.get("preScript"), postscript=extensions.get("postScript"),
                                    **self.bpmn_attributes)
        elif not extensions.get("calledDecisionId"):
            self.raise_validation_exception(
                "The business rule task names no decision: add spiffworkflow:calledDecisionId (or "
                "camunda:decisionRef) with the id of a decision in the deployed DMN.")
        else:
            task = super().create_task()
        task.decision_id = camunda_ref or extensions.get("calledDecisionId")  # named in incidents
        return task


class _ClockedTimers(_FixedValidation):
    """Mixin for event parsers: every timer they create reads the engine's clock."""

    def parse_timer_event(self, event: Any) -> Any:
        return clocked(super().parse_timer_event(event))  # type: ignore[misc]


class _StartEventParser(_CamundaAttributes, _ClockedTimers, SpiffStartEventParser):
    """Start events, whose timers delay a start."""


class _IntermediateCatchEventParser(_ClockedTimers, SpiffIntermediateCatchEventParser):
    """Intermediate catch events: timers to a date or after a duration."""


class _BoundaryEventParser(_ClockedTimers, SpiffBoundaryEventParser):
    """Boundary events: SLA timers on tasks."""


class _IntermediateThrowEventParser(_FixedValidation, SpiffIntermediateThrowEventParser):
    """Intermediate throw events (messages, signals, escalations)."""


class _EndEventParser(_FixedValidation, SpiffEndEventParser):
    """End events (errors, escalations, messages, terminate, cancel)."""


def _with_bounded_instances(parser: type[Any]) -> type[Any]:
    """The task parser, making the bounded multi-instance task classes."""
    return type(parser.__name__, (parser,), {"PARALLEL_MI_CLASS": BoundedParallelMultiInstanceTask,
                                             "SEQUENTIAL_MI_CLASS": BoundedSequentialMultiInstanceTask})


class BpmnParser(SpiffBpmnParser):
    """The parser the engine uses for deploys and for rebuilding cached specs."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("task"): (_TaskParser, NoneTask),
        full_tag("userTask"): (_UserTaskParser, SpiffUserTask),
        full_tag("manualTask"): (_TaskParser, ManualTask),
        full_tag("serviceTask"): (_ServiceTaskParser, ServiceTask),
        full_tag("businessRuleTask"): (_BusinessRuleTaskParser, BusinessRuleTask),
        full_tag("startEvent"): (_StartEventParser, StartEvent),
        full_tag("intermediateCatchEvent"): (_IntermediateCatchEventParser, IntermediateCatchEvent),
        full_tag("intermediateThrowEvent"): (_IntermediateThrowEventParser, IntermediateThrowEvent),
        full_tag("boundaryEvent"): (_BoundaryEventParser, BoundaryEvent),
        full_tag("endEvent"): (_EndEventParser, EndEvent),
    }
    # Every parser that can make a multi-instance task makes the bounded ones.
    OVERRIDE_PARSER_CLASSES = {
        tag: (_with_bounded_instances(parser) if issubclass(parser, TaskParser) else parser, spec)
        for tag, (parser, spec) in OVERRIDE_PARSER_CLASSES.items()
    }
