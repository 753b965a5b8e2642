"""What changed between two versions of a diagram, element by element (for the visual diff).

Elements are matched by id. An element is *changed* when its kind, its attributes or what it holds that
is not an element of its own (names, conditions, scripts, extension properties, timer definitions) differ.
Its ``incoming``/``outgoing`` lists are left out: a flow that is added or removed shows as itself. The
diagram layout (where shapes are drawn) is not compared: it changes nothing that runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.canonical import canonical_xml

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_REFERENCES = {"incoming", "outgoing", "flowNodeRef"}


@dataclass(frozen=True)
class ElementChange:
    element_id: str
    kind: str  # the BPMN element, e.g. userTask
    name: str | None
    change: str  # added, removed, changed
    details: tuple[str, ...] = ()  # for a change: what differs (attributes, extensions)

    def to_dict(self) -> dict[str, Any]:
        return {"element_id": self.element_id, "kind": self.kind, "name": self.name, "change": self.change,
                "details": list(self.details)}


def diff_versions(old_xml: str | None, new_xml: str) -> list[ElementChange]:
    """The elements added, removed and changed from ``old_xml`` (None: nothing) to ``new_xml``, by element id."""
    old, new = (_elements(old_xml) if old_xml is not None else {}), _elements(new_xml)
    changes = []
    for element_id, element in new.items():
        if element_id not in old:
            changes.append(_change(element_id, element, "added"))
    for element_id, element in old.items():
        if element_id not in new:
            changes.append(_change(element_id, element, "removed"))
    for element_id, element in new.items():
        before = old.get(element_id)
        if before is not None:
            details = _differences(before, element)
            if details:
                changes.append(_change(element_id, element, "changed", details))
    order = {"added": 0, "changed": 1, "removed": 2}
    return sorted(changes, key=lambda change: (order[change.change], change.element_id))


def _elements(xml: str) -> dict[str, Any]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    root = etree.fromstring(xml.encode(), parser)
    return {element.get("id"): element for element in root.iter(f"{{{BPMN}}}*")
            if element.get("id") and etree.QName(element).localname not in ("definitions",)}


def _change(element_id: str, element: Any, change: str, details: tuple[str, ...] = ()) -> ElementChange:
    return ElementChange(element_id, etree.QName(element).localname, element.get("name"), change, details)


def _differences(old: Any, new: Any) -> tuple[str, ...]:
    details = []
    if etree.QName(old).localname != etree.QName(new).localname:
        details.append(f"kind: {etree.QName(old).localname} -> {etree.QName(new).localname}")
    for name in sorted(set(old.attrib) | set(new.attrib)):
        if old.get(name) != new.get(name):
            label = etree.QName(name).localname if name.startswith("{") else name
            details.append(f"{label}: {old.get(name)!r} -> {new.get(name)!r}")
    if _content(old) != _content(new):
        details.append("content (extension properties, scripts, conditions or event definitions)")
    return tuple(details)


def _content(element: Any) -> str:
    """What an element holds beside its attributes, without child elements that have ids of their own
    (they are compared as themselves) or the flow references."""
    copy = etree.fromstring(etree.tostring(element))
    copy.attrib.clear()
    for child in list(copy.iter()):
        if child is copy or not isinstance(child.tag, str):
            continue
        parent = child.getparent()
        if parent is None:
            continue
        own_element = etree.QName(child).namespace == BPMN and child.get("id")
        if own_element or (etree.QName(child).localname in _REFERENCES and parent is copy):
            parent.remove(child)
    return canonical_xml(etree.tostring(copy, encoding="unicode"))
