"""A few lines of BPMN per test: wrap a process body in the definitions, pool and lane boilerplate.

``diagram(body, lanes={"Practitioner": ["review"]})`` gives a deployable document whose process id is
``proc``. Element helpers (``user_task``, ``script_task``, ``flows``...) keep the bodies short.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape, quoteattr

PROCESS_ID = "proc"
HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="definitions" targetNamespace="http://changeflow.test/bpmn">\n'
)


def diagram(body: str, lanes: Mapping[str, Iterable[str]] | None = None, *, process_id: str = PROCESS_ID,
            before: str = "", executable: bool = True) -> str:
    """A BPMN document holding one process (in a pool, with a lane per entry of ``lanes``)."""
    lane_xml = ""
    if lanes:
        lane_xml = '<bpmn:laneSet id="lanes">\n' + "".join(
            f'  <bpmn:lane id="lane_{index}" name={quoteattr(name)}>\n'
            + "".join(f"    <bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>\n" for ref in refs)
            + "  </bpmn:lane>\n"
            for index, (name, refs) in enumerate(lanes.items())
        ) + "</bpmn:laneSet>\n"
    return (
        HEADER
        + '<bpmn:collaboration id="collaboration">\n'
        + f'  <bpmn:participant id="pool" name="Pool" processRef="{process_id}"/>\n'
        + "</bpmn:collaboration>\n"
        + before
        + f'<bpmn:process id="{process_id}" name="Test process" isExecutable="{str(executable).lower()}">\n'
        + lane_xml
        + body
        + "</bpmn:process>\n</bpmn:definitions>\n"
    )


def _properties(properties: Mapping[str, str]) -> str:
    if not properties:
        return ""
    items = "".join(f"<spiffworkflow:property name={quoteattr(k)} value={quoteattr(v)}/>"
                    for k, v in properties.items())
    return f"<spiffworkflow:properties>{items}</spiffworkflow:properties>"


def user_task(element_id: str, name: str | None = None, *, form: str | None = None, pre: str | None = None,
              post: str | None = None, **properties: str) -> str:
    """A user task; keyword properties become spiffworkflow properties (``dueIn="P2D"``)."""
    props = dict(properties)
    if form:
        props["formKey"] = form
    extensions = _properties(props)
    if pre:
        extensions += f"<spiffworkflow:preScript>{escape(pre)}</spiffworkflow:preScript>"
    if post:
        extensions += f"<spiffworkflow:postScript>{escape(post)}</spiffworkflow:postScript>"
    inner = f"<bpmn:extensionElements>{extensions}</bpmn:extensionElements>" if extensions else ""
    return f'<bpmn:userTask id="{element_id}" name={quoteattr(name or element_id)}>{inner}</bpmn:userTask>\n'


def script_task(element_id: str, script: str, name: str | None = None) -> str:
    """A Python script task (the script keeps its line breaks, so lines can be asserted)."""
    return (f'<bpmn:scriptTask id="{element_id}" name={quoteattr(name or element_id)} scriptFormat="python">'
            f"<bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>\n")


def service_task(element_id: str, operator: str, parameters: Mapping[str, str] | None = None, *,
                 result: str = "result", name: str | None = None) -> str:
    """A service task calling the registered ``operator``; ``parameters`` map names to expressions."""
    params = "".join(f'<spiffworkflow:parameter id={quoteattr(param)} type="any" value={quoteattr(value)}/>'
                     for param, value in (parameters or {}).items())
    return (f'<bpmn:serviceTask id="{element_id}" name={quoteattr(name or element_id)}><bpmn:extensionElements>'
            f'<spiffworkflow:serviceTaskOperator id={quoteattr(operator)} resultVariable={quoteattr(result)}>'
            f"<spiffworkflow:parameters>{params}</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>"
            "</bpmn:extensionElements></bpmn:serviceTask>\n")


def start_event(element_id: str = "start", inner: str = "") -> str:
    return f'<bpmn:startEvent id="{element_id}">{inner}</bpmn:startEvent>\n'


def end_event(element_id: str = "end") -> str:
    return f'<bpmn:endEvent id="{element_id}"/>\n'


def gateway(element_id: str, default: str | None = None) -> str:
    extra = f' default="{default}"' if default else ""
    return f'<bpmn:exclusiveGateway id="{element_id}"{extra}/>\n'


def flow(source: str, target: str, condition: str | None = None, element_id: str | None = None) -> str:
    """A sequence flow, with a condition expression when given."""
    flow_id = element_id or f"flow_{source}_{target}"
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>\n'
    return (f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}'
            "</bpmn:conditionExpression></bpmn:sequenceFlow>\n")


def flows(*ids: str) -> str:
    """Sequence flows joining ``ids`` in a chain."""
    return "".join(flow(a, b) for a, b in zip(ids, ids[1:], strict=False))


def timer(kind: str, expression: str, element_id: str = "timer_def") -> str:
    """A timer event definition: ``kind`` is timeDate, timeDuration or timeCycle."""
    return (f'<bpmn:timerEventDefinition id="{element_id}"><bpmn:{kind} xsi:type="bpmn:tFormalExpression">'
            f"{escape(expression)}</bpmn:{kind}></bpmn:timerEventDefinition>")


def timer_catch(element_id: str, kind: str, expression: str) -> str:
    """An intermediate timer catch event."""
    return (f'<bpmn:intermediateCatchEvent id="{element_id}">{timer(kind, expression, element_id + "_def")}'
            "</bpmn:intermediateCatchEvent>\n")


def boundary_timer(element_id: str, attached_to: str, kind: str, expression: str, *,
                   interrupting: bool = True) -> str:
    """A timer boundary event on ``attached_to``."""
    return (f'<bpmn:boundaryEvent id="{element_id}" attachedToRef="{attached_to}" '
            f'cancelActivity="{str(interrupting).lower()}">{timer(kind, expression, element_id + "_def")}'
            "</bpmn:boundaryEvent>\n")


def linear(*tasks: str, lanes: Mapping[str, Iterable[str]] | None = None, body: str = "") -> str:
    """start -> each of ``tasks`` (element ids) -> end, with the task elements given in ``body``."""
    return diagram(start_event() + body + end_event() + flows("start", *tasks, "end"), lanes)


def form(*fields: dict, title: str = "Test form") -> dict:
    """A form definition dict, as DeployVersion(forms=...) takes it."""
    return {"title": title, "fields": list(fields)}
