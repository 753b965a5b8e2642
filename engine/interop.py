"""Diagrams from bpmn.io and Camunda Modeler: what their Camunda attributes mean to Changeflow.

Camunda Modeler's properties panel writes ``camunda:`` attributes on user tasks. Changeflow either maps
each one to its own property or says, as a deploy warning naming the element, that it is not used and
what to write instead. None is ignored in silence.

- ``camunda:formKey`` with a plain key (``change/assess``) is the task's form, as ``formKey`` is; a
  Camunda form reference (``embedded:app:...``, ``camunda-forms:...``) is not a Changeflow form.
- ``camunda:candidateGroups`` names the role of a task outside any lane (``engine.specs.task_role``).
- ``camunda:candidateUsers``, ``camunda:assignee`` and ``camunda:dueDate`` have no Changeflow meaning:
  tasks go to roles (lanes), ``assignTo`` names who gets one, and ``dueIn`` gives a duration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
# A Camunda form reference starts with a scheme (embedded:, camunda-forms:, app:, deployment:); a plain key
# is what Changeflow's forms are called.
_FORM_SCHEME = re.compile(r"^[a-z][a-z-]*:")
FORM_KEY_EXTENSION = "camundaFormKey"


@dataclass(frozen=True)
class Finding:
    """One Camunda attribute, on one element, and what Changeflow makes of it."""

    element_id: str | None
    line: int | None
    message: str


def plain_form_key(value: str | None) -> str | None:
    """The Changeflow form a ``camunda:formKey`` names, or None for a Camunda form reference."""
    value = (value or "").strip()
    return value if value and not _FORM_SCHEME.match(value) else None


def mapped_form_key(extensions: Mapping[str, Any]) -> str | None:
    """A task's form: the ``formKey`` property, else a plain ``camunda:formKey`` (kept by the parser)."""
    properties = extensions.get("properties") or {}
    return properties.get("formKey") or plain_form_key(extensions.get(FORM_KEY_EXTENSION)) or None


def camunda_findings(document: Any, role_of_lane: Callable[[str], str | None]) -> Iterator[Finding]:
    """What each Camunda task attribute in ``document`` (an lxml tree) becomes, element by element."""
    lanes = _lane_of(document)
    for element in document.iter(f"{{{BPMN}}}*"):
        if not isinstance(element.tag, str):
            continue
        element_id, line = element.get("id"), element.sourceline
        yield from _form_key(element, element_id, line)
        groups = element.get(f"{{{CAMUNDA}}}candidateGroups")
        lane = lanes.get(element_id or "")
        if groups and lane is not None:
            yield Finding(element_id, line, f"camunda:candidateGroups '{groups}' is not used: the task is in the lane "
                                            f"'{lane}', which gives its role ({role_of_lane(lane) or 'none'}). "
                                            "Remove the attribute, or move the task out of the lane.")
        users = element.get(f"{{{CAMUNDA}}}candidateUsers")
        if users:
            yield Finding(element_id, line, f"camunda:candidateUsers '{users}' is not used: Changeflow offers a task "
                                            "to everyone who holds its role (its lane, or camunda:candidateGroups). "
                                            "Give those users the role instead.")
        assignee = element.get(f"{{{CAMUNDA}}}assignee")
        if assignee:
            yield Finding(element_id, line, f"camunda:assignee '{assignee}' is not used: set the property 'assignTo' "
                                            "to 'requester' or to the id of an earlier user task whose completer "
                                            "gets this one.")
        due = element.get(f"{{{CAMUNDA}}}dueDate")
        if due:
            yield Finding(element_id, line, f"camunda:dueDate '{due}' is not used: set the property 'dueIn' to an "
                                            "ISO 8601 duration from when the task opens (for example P2D or PT4H).")


def _form_key(element: Any, element_id: str | None, line: int | None) -> Iterator[Finding]:
    value = element.get(f"{{{CAMUNDA}}}formKey")
    if not value:
        return
    own = _spiff_property(element, "formKey")
    plain = plain_form_key(value)
    if own and own != value:
        yield Finding(element_id, line, f"camunda:formKey '{value}' is not used: the property formKey names the "
                                        f"form '{own}'. Remove one of the two.")
    elif plain is None:
        yield Finding(element_id, line, f"camunda:formKey '{value}' is a Camunda form reference, which Changeflow "
                                        "cannot show: the task has no form. Set it to the key of a Changeflow "
                                        "form (for example change/assess).")
    elif not own:
        yield Finding(element_id, line, f"camunda:formKey '{value}' is used as the task's form (Changeflow's "
                                        "property formKey).")


def _spiff_property(element: Any, name: str) -> str | None:
    for prop in element.iter(f"{{{SPIFF}}}property"):
        if prop.get("name") == name:
            return str(prop.get("value") or "") or None
    return None


def _lane_of(document: Any) -> dict[str, str]:
    """Element id -> the name of the innermost lane that holds it."""
    found: dict[str, str] = {}
    for lane in document.iter(f"{{{BPMN}}}lane"):
        for ref in lane.iter(f"{{{BPMN}}}flowNodeRef"):
            if ref.getparent() is lane and ref.text:
                found[ref.text.strip()] = lane.get("name") or lane.get("id") or ""
    return found
