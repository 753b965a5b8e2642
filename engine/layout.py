"""Drawing a diagram that has no layout, so that the stored version always opens in a modeler.

A diagram written by hand (or a task added in a text editor) may lack BPMN diagram interchange (DI): the
shapes and edges that say where each element is drawn. Without any, bpmn-js and Camunda Modeler show "no
diagram to display"; without some, they silently leave those elements out. ``add_missing_layout`` draws
what is missing, left to right in the order of the sequence flows, one row per lane, and leaves every
existing shape where its author put it (new ones go below the existing drawing).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
_NS = {"bpmn": BPMN, "bpmndi": BPMNDI}
PREFIXES = {"bpmndi": BPMNDI, "dc": DC, "di": DI}  # as modelers write them

_ACTIVITIES = {"task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask",
               "receiveTask", "subProcess", "callActivity", "transaction", "adHocSubProcess"}
_EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
_GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
_DATA = {"dataObjectReference", "dataStoreReference"}
_EDGES = {"sequenceFlow", "association", "dataInputAssociation", "dataOutputAssociation"}
SIZES = {"activity": (100, 80), "event": (36, 36), "gateway": (50, 50), "data": (36, 50)}
COLUMN = 160  # from one layer's centre to the next
ROW = 110  # from one row's centre to the next
MARGIN = 60
LANE_HEADER = 30


@dataclass(frozen=True)
class Bounds:
    x: float
    y: float
    width: float
    height: float

    @property
    def centre_y(self) -> float:
        return self.y + self.height / 2


@dataclass
class Layout:
    """The result: the document (with the DI it lacked) and the ids of what was drawn."""

    xml: str
    drawn: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.drawn)


def add_missing_layout(bpmn_xml: str) -> Layout:
    """``bpmn_xml`` with shapes and edges for every element that has none (unchanged if none lacks one)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(bpmn_xml.encode(), parser)
    shapes = {node.get("bpmnElement"): node for node in root.iter(f"{{{BPMNDI}}}BPMNShape")}
    edges = {node.get("bpmnElement") for node in root.iter(f"{{{BPMNDI}}}BPMNEdge")}
    drawn: list[str] = []
    for container, plane in _containers(root, shapes):
        drawn += _draw_container(root, container, plane, shapes, edges)
    if not drawn:
        return Layout(bpmn_xml)
    text = etree.tostring(root, encoding="unicode")
    declaration = bpmn_xml.lstrip().startswith("<?xml")
    return Layout(('<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else "") + text, drawn)


def _local(node: Any) -> str:
    return str(etree.QName(node).localname) if isinstance(node.tag, str) else ""


def _containers(root: Any, shapes: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(process or collapsed subprocess, the plane its elements are drawn on)."""
    planes = {plane.get("bpmnElement"): plane for plane in root.iter(f"{{{BPMNDI}}}BPMNPlane")}
    collaboration = root.find("bpmn:collaboration", _NS)
    processes = root.findall("bpmn:process", _NS)
    main_id = collaboration.get("id") if collaboration is not None else (processes[0].get("id") if processes else None)
    if main_id is None:
        return []
    main_plane = planes.get(main_id)
    if main_plane is None and planes:
        main_plane = next(iter(planes.values()))
    if main_plane is None:
        diagram = etree.SubElement(root, f"{{{BPMNDI}}}BPMNDiagram", id=f"{main_id}_diagram", nsmap=PREFIXES)
        main_plane = etree.SubElement(diagram, f"{{{BPMNDI}}}BPMNPlane", id=f"{main_id}_plane", bpmnElement=main_id)
    result = []
    for process in processes:
        result.append((process, main_plane))
        # A subprocess without a shape is drawn collapsed, with its contents on a plane of its own.
        for sub in process.iter(f"{{{BPMN}}}subProcess", f"{{{BPMN}}}transaction", f"{{{BPMN}}}adHocSubProcess"):
            if sub.get("id") not in shapes and sub.get("id") not in planes:
                diagram = etree.SubElement(root, f"{{{BPMNDI}}}BPMNDiagram", id=f"{sub.get('id')}_diagram",
                                           nsmap=PREFIXES)
                plane = etree.SubElement(diagram, f"{{{BPMNDI}}}BPMNPlane", id=f"{sub.get('id')}_plane",
                                         bpmnElement=sub.get("id"))
                planes[sub.get("id")] = plane
                result.append((sub, plane))
    return result


def _nodes(container: Any) -> list[Any]:
    return [child for child in container if _local(child) in _ACTIVITIES | _EVENTS | _GATEWAYS | _DATA]


def _kind(node: Any) -> str:
    name = _local(node)
    if name in _EVENTS:
        return "event"
    if name in _GATEWAYS:
        return "gateway"
    if name in _DATA:
        return "data"
    return "activity"


def _layers(container: Any, nodes: list[Any]) -> dict[str, int]:
    """Each node's column: the longest chain of sequence flows to it from a node nothing flows into.

    Flows that loop back (found by a depth-first walk) are left out, so that a loop does not push its
    nodes ever further right. A boundary event's flows count as its host's.
    """
    order = [node.get("id") for node in nodes]
    ids = set(order)
    hosts = {node.get("id"): node.get("attachedToRef") for node in container
             if _local(node) == "boundaryEvent"}
    outgoing: dict[str, list[str]] = defaultdict(list)
    for flow in container.findall("bpmn:sequenceFlow", _NS):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        source = hosts.get(source, source)
        if source in ids and target in ids:
            outgoing[source].append(target)
    targets = {target for successors in outgoing.values() for target in successors}
    starts = [node_id for node_id in order if node_id not in targets] or order[:1]
    forward = _without_back_edges(outgoing, starts + order)
    incoming: dict[str, int] = defaultdict(int)
    for successors in forward.values():
        for target in successors:
            incoming[target] += 1
    layer = {node_id: 0 for node_id in order}
    ready = [node_id for node_id in order if not incoming[node_id]]
    while ready:  # Kahn's topological order: a node's column is one more than its furthest predecessor's
        node_id = ready.pop()
        for target in forward[node_id]:
            layer[target] = max(layer[target], layer[node_id] + 1)
            incoming[target] -= 1
            if not incoming[target]:
                ready.append(target)
    return layer


def _without_back_edges(outgoing: dict[str, list[str]], roots: list[str]) -> dict[str, list[str]]:
    forward: dict[str, list[str]] = defaultdict(list)
    state: dict[str, int] = {}  # 1: on the walk's current path, 2: done
    for root in roots:
        if root in state:
            continue
        stack = [(root, iter(outgoing[root]))]
        state[root] = 1
        while stack:
            node_id, successors = stack[-1]
            target = next(successors, None)
            if target is None:
                state[node_id] = 2
                stack.pop()
            elif state.get(target) == 1:
                continue  # back to a node on the current path: a loop
            else:
                forward[node_id].append(target)
                if target not in state:
                    state[target] = 1
                    stack.append((target, iter(outgoing[target])))
    return forward


def _lanes(container: Any) -> list[tuple[Any, set[str]]]:
    lanes = []
    for lane in container.iter(f"{{{BPMN}}}lane"):
        if lane.find("bpmn:childLaneSet", _NS) is not None:
            continue  # only the innermost lanes get rows
        refs = {(ref.text or "").strip() for ref in lane.findall("bpmn:flowNodeRef", _NS)}
        lanes.append((lane, refs))
    return lanes


def _draw_container(root: Any, container: Any, plane: Any, shapes: dict[str, Any], edges: set[str]) -> list[str]:
    nodes = _nodes(container)
    missing = [node for node in nodes if node.get("id") not in shapes and _local(node) != "boundaryEvent"]
    boundaries = [node for node in nodes if node.get("id") not in shapes and _local(node) == "boundaryEvent"]
    drawn: list[str] = []
    if missing:
        layer = _layers(container, [node for node in nodes if _local(node) != "boundaryEvent"])
        existing = [_bounds(shape) for shape in shapes.values() if shape.getparent() is plane]
        top = max((b.y + b.height for b in existing), default=0.0) + (MARGIN if existing else 0.0)
        lanes = _lanes(container) if not existing else []
        band_of = {node_id: index for index, (_lane, refs) in enumerate(lanes) for node_id in refs}
        rows: dict[tuple[int, int], int] = defaultdict(int)
        placed: dict[str, tuple[int, int, int]] = {}
        for node in missing:
            band = band_of.get(node.get("id"), len(lanes) if lanes else 0)
            column = layer[node.get("id")]
            placed[node.get("id")] = (band, column, rows[(band, column)])
            rows[(band, column)] += 1
        band_rows: dict[int, int] = defaultdict(lambda: 1)
        for (band, _column), count in rows.items():
            band_rows[band] = max(band_rows[band], count)
        band_tops, y = {}, top + MARGIN / 2
        for band in range(max(band_rows, default=0) + 1):
            band_tops[band] = y
            y += band_rows[band] * ROW
        pooled = _participant(root, container) is not None and not existing
        left = (LANE_HEADER + 30 if lanes or pooled else 0) + MARGIN + 100
        for node in missing:
            band, column, row = placed[node.get("id")]
            width, height = SIZES[_kind(node)]
            centre_x = left + column * COLUMN
            centre_y = band_tops[band] + row * ROW + ROW / 2
            bounds = Bounds(centre_x - width / 2, centre_y - height / 2, width, height)
            shapes[node.get("id")] = _shape(plane, node, bounds)
            drawn.append(node.get("id"))
        if lanes or pooled:
            right = left + (max(layer.values(), default=0) + 1) * COLUMN
            _draw_pool(root, container, plane, lanes, band_tops, band_rows, right, shapes, drawn)
    for node in boundaries:
        host = shapes.get(node.get("attachedToRef"))
        host_bounds = _bounds(host) if host is not None else Bounds(MARGIN, MARGIN, 100, 80)
        bounds = Bounds(host_bounds.x + host_bounds.width - 30, host_bounds.y + host_bounds.height - 18, 36, 36)
        shapes[node.get("id")] = _shape(plane, node, bounds)
        drawn.append(node.get("id"))
    for flow in container:
        if _local(flow) not in _EDGES or flow.get("id") in edges or not flow.get("id"):
            continue
        source, target = _ends(flow)
        if source not in shapes or target not in shapes:
            continue
        _edge(plane, flow, _bounds(shapes[source]), _bounds(shapes[target]))
        edges.add(flow.get("id"))
        drawn.append(flow.get("id"))
    return drawn


def _draw_pool(root: Any, process: Any, plane: Any, lanes: list[tuple[Any, set[str]]], band_tops: dict[int, float],
               band_rows: dict[int, int], right: float, shapes: dict[str, Any], drawn: list[str]) -> None:
    """The participant of a process (when a collaboration has one) and its lanes, around the rows drawn."""
    last = max(band_tops)
    top = band_tops[0] - 10
    bottom = band_tops[last] + band_rows[last] * ROW + 10
    participant = _participant(root, process)
    if participant is not None and participant.get("id") not in shapes:
        bounds = Bounds(MARGIN, top, right - MARGIN, bottom - top)
        shapes[participant.get("id")] = _shape(plane, participant, bounds, horizontal=True)
        drawn.append(participant.get("id"))
    lane_left = MARGIN + LANE_HEADER if participant is not None else MARGIN
    for index, (lane, _refs) in enumerate(lanes):
        if lane.get("id") in shapes:
            continue
        lane_top = band_tops[index] - (10 if index == 0 else 0)
        lane_bottom = band_tops[index] + band_rows[index] * ROW + (10 if index == len(lanes) - 1 else 0)
        bounds = Bounds(lane_left, lane_top, right - lane_left, lane_bottom - lane_top)
        shapes[lane.get("id")] = _shape(plane, lane, bounds, horizontal=True)
        drawn.append(lane.get("id"))


def _participant(root: Any, process: Any) -> Any:
    """The participant (pool) that stands for ``process`` in a collaboration, if any."""
    return next((p for p in root.iter(f"{{{BPMN}}}participant") if p.get("processRef") == process.get("id")), None)


def _ends(flow: Any) -> tuple[str | None, str | None]:
    if _local(flow) in ("sequenceFlow", "association"):
        return flow.get("sourceRef"), flow.get("targetRef")
    source = flow.find("bpmn:sourceRef", _NS)
    target = flow.find("bpmn:targetRef", _NS)
    owner = flow.getparent().get("id")
    if _local(flow) == "dataInputAssociation":
        return (source.text.strip() if source is not None and source.text else None), owner
    return owner, (target.text.strip() if target is not None and target.text else None)


def _bounds(shape: Any) -> Bounds:
    node = shape.find(f"{{{DC}}}Bounds")
    if node is None:  # a shape without bounds (the schema check warns about it): draw beside it at the origin
        return Bounds(0, 0, 100, 80)
    return Bounds(*(float(node.get(name, "0")) for name in ("x", "y", "width", "height")))


def _shape(plane: Any, element: Any, bounds: Bounds, *, horizontal: bool = False) -> Any:
    shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{element.get('id')}_di",
                             bpmnElement=element.get("id"))
    if horizontal:
        shape.set("isHorizontal", "true")
    if _local(element) in ("subProcess", "transaction", "adHocSubProcess"):
        shape.set("isExpanded", "false")
    etree.SubElement(shape, f"{{{DC}}}Bounds", x=_number(bounds.x), y=_number(bounds.y),
                     width=_number(bounds.width), height=_number(bounds.height))
    return shape


def _edge(plane: Any, flow: Any, source: Bounds, target: Bounds) -> None:
    edge = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{flow.get('id')}_di", bpmnElement=flow.get("id"))
    start = (source.x + source.width, source.centre_y)
    end = (target.x, target.centre_y)
    if end[0] <= start[0]:  # backwards (a loop): leave from the bottom and come back into the bottom
        start = (source.x + source.width / 2, source.y + source.height)
        end = (target.x + target.width / 2, target.y + target.height)
        low = max(start[1], end[1]) + 30
        points = [start, (start[0], low), (end[0], low), end]
    elif start[1] == end[1]:
        points = [start, end]
    else:
        middle = (start[0] + end[0]) / 2
        points = [start, (middle, start[1]), (middle, end[1]), end]
    for x, y in points:
        etree.SubElement(edge, f"{{{DI}}}waypoint", x=_number(x), y=_number(y))


def _number(value: float) -> str:
    return str(int(round(value)))
