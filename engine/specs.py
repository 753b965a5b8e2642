"""Parsed process versions: the SpiffWorkflow spec plus what the engine needs to know of each user task.

Parsing costs milliseconds, so each version is parsed once per process and kept in an LRU cache.
Instances never embed the spec in their saved state; they point at their version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.none_task import NoneTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask

from engine.interop import mapped_form_key
from engine.parsing import ROLE_PROPERTY, BpmnParser, ExternalServiceTask
from forms import FormDefinition

LaneRoles = Callable[[str], "str | None"]
REQUESTER = "requester"
DEFAULT_ROLE = "practitioner"  # the role of user tasks outside lanes, unless the deploy names another


class RoleSource(StrEnum):
    """Where a human task's role comes from, in order of precedence."""

    LANE = "lane"
    CANDIDATE_GROUPS = "camunda:candidateGroups"
    PROPERTY = "role property"
    DEFAULT = "default role"


@dataclass(frozen=True)
class TaskMeta:
    """What the engine needs to know about one human task (or external service task) of a diagram."""

    element_id: str
    title: str
    lane: str | None
    role: str | None
    form_key: str | None
    separation: tuple[str, ...] = ()  # "requester" or element ids of user tasks
    assign_to: str | None = None  # "requester" or the element id of a user task
    due_in: str | None = None  # ISO 8601 duration
    instructions: str | None = None
    role_source: RoleSource = RoleSource.LANE
    role_hint: str | None = None  # what the diagram named (candidate groups or property) when it maps to no role
    # For an instance of a multi-instance task: the variable each instance's result goes to (gathered by the
    # library into the output collection), and that one person may complete at most one instance.
    output_item: str | None = None
    topic: str | None = None  # an external service task's topic


@dataclass(frozen=True)
class ProcessBundle:
    """A parsed process version, shared by every instance that runs it."""

    version_id: int
    version_number: int
    process_id: str
    name: str
    spec: Any
    subprocess_specs: Mapping[str, Any]
    tasks: Mapping[str, TaskMeta]
    forms: Mapping[str, FormDefinition] = field(default_factory=dict)
    start_role: str | None = None
    start_form_key: str | None = None
    external_tasks: Mapping[str, TaskMeta] = field(default_factory=dict)  # service tasks workers carry out
    has_messages: bool = False  # any message catch event: only then are subscriptions kept up to date

    def form(self, key: str | None) -> FormDefinition | None:
        return self.forms.get(key) if key else None


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def task_role(task_spec: Any, lane_roles: LaneRoles, default_role: str | None) -> tuple[str | None, RoleSource,
                                                                                       str | None]:
    """(role, where it came from, what the diagram named if it maps to no role) for a human task.

    In order: the lane; ``camunda:candidateGroups`` (the first group that names a role); the ``role``
    property; the model's default role, chosen at deploy.
    """
    lane = getattr(task_spec, "lane", None)
    if lane:
        return lane_roles(lane), RoleSource.LANE, None
    extensions = getattr(task_spec, "extensions", {}) or {}
    hints: list[str] = []
    groups = _split(extensions.get("candidateGroups"))
    for group in groups:
        if lane_roles(group):
            return lane_roles(group), RoleSource.CANDIDATE_GROUPS, None
    hints += groups
    named = ((extensions.get("properties") or {}).get(ROLE_PROPERTY) or "").strip()
    if named:
        if lane_roles(named):
            return lane_roles(named), RoleSource.PROPERTY, None
        hints.append(named)
    return default_role or DEFAULT_ROLE, RoleSource.DEFAULT, ", ".join(hints) or None


def task_meta(task_spec: Any, lane_roles: LaneRoles, default_role: str | None = None) -> TaskMeta:
    """Read a human task's role, form and duties from its spec."""
    extensions = getattr(task_spec, "extensions", {}) or {}
    properties = extensions.get("properties", {}) or {}
    lane = getattr(task_spec, "lane", None)
    role, source, hint = task_role(task_spec, lane_roles, default_role)
    multi = multi_instance_of(task_spec) if hasattr(task_spec, "_wf_spec") else None
    return TaskMeta(
        element_id=task_spec.bpmn_id,
        title=task_spec.bpmn_name or task_spec.bpmn_id,
        lane=lane,
        role=role,
        role_source=source,
        role_hint=hint,
        form_key=mapped_form_key(extensions),
        separation=_split(properties.get("separationOfDuties")),
        assign_to=(properties.get("assignTo") or "").strip() or None,
        due_in=(properties.get("dueIn") or "").strip() or None,
        instructions=extensions.get("instructionsForEndUser"),
        output_item=multi.output_item.bpmn_id if multi is not None and multi.output_item is not None else None,
        topic=getattr(task_spec, "topic", None),
    )


def event_definitions(task_spec: Any) -> list[Any]:
    """The event definitions a task spec catches: its own, or each of a multiple one (an event-based gateway
    waits with the definitions of the events that follow it)."""
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition] if definition is not None else []


def multi_instance_of(task_spec: Any) -> Any | None:
    """The multi-instance spec that runs ``task_spec`` as its instances, if any."""
    for spec in task_spec._wf_spec.task_specs.values():
        if isinstance(spec, MultiInstanceTask) and spec.task_spec == task_spec.name:
            return spec
    return None


def gather_outputs(spec: Any, subprocess_specs: Mapping[str, Any]) -> None:
    """Make every multi-instance human task gather its instances' results into a collection.

    Without an output collection the library merges each instance's data into the process data, so the
    last completion overwrites the others (deny, then approve, ends approved). A diagram that names none
    gets ``<element id>_results``, collected from ``<element id>_result``.
    """
    for task_spec in all_task_specs(spec, subprocess_specs):
        if not isinstance(task_spec, MultiInstanceTask):
            continue
        inner = task_spec._wf_spec.task_specs.get(task_spec.task_spec)
        if inner is None or not is_human_task(inner):
            continue
        if task_spec.data_output is None:
            task_spec.data_output = TaskDataReference(f"{task_spec.bpmn_id}_results")
        if task_spec.output_item is None:
            task_spec.output_item = TaskDataReference(f"{task_spec.bpmn_id}_result")


def is_human_task(task_spec: Any) -> bool:
    """User and manual tasks, and plain tasks in a lane (a "mark done" task for that lane's role).

    A plain task outside any lane passes through (``parse_process`` makes it automatic).
    """
    if isinstance(task_spec, NoneTask):
        return bool(getattr(task_spec, "lane", None))
    return isinstance(task_spec, (UserTask, ManualTask))


def is_external_task(task_spec: Any) -> bool:
    return isinstance(task_spec, ExternalServiceTask)


def all_task_specs(spec: Any, subprocess_specs: Mapping[str, Any]) -> list[Any]:
    """Every task spec of the process and of the subprocesses it calls."""
    specs = list(spec.task_specs.values())
    for subprocess in subprocess_specs.values():
        specs.extend(subprocess.task_specs.values())
    return specs


def start_event(spec: Any) -> Any | None:
    """The process's none (or timer) start event, if it has exactly one."""
    starts = [ts for ts in spec.task_specs.values() if isinstance(ts, StartEvent)]
    return starts[0] if len(starts) == 1 else None


def parse_process(process_id: str, bpmn_xml: str, decisions: list[str], *,
                  validator: Any = None) -> tuple[Any, dict[str, Any]]:
    """Parse a BPMN document (with its DMN decisions) and return the spec and subprocess specs."""
    parser = BpmnParser(validator=validator)
    for decision in decisions:
        parser.add_dmn_str(decision.encode())
    parser.add_bpmn_str(bpmn_xml.encode())
    spec, subprocess_specs = parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    for task_spec in all_task_specs(spec, subprocess_specs):
        if isinstance(task_spec, NoneTask) and not getattr(task_spec, "lane", None):
            task_spec.manual = False  # nobody is named to do it: it passes through, as in Camunda
    gather_outputs(spec, subprocess_specs)
    return spec, subprocess_specs


def build_bundle(version: Any, lane_roles: LaneRoles) -> ProcessBundle:
    """Parse a stored ``ProcessVersion`` into a bundle (the deploy checks have already passed)."""
    spec, subprocess_specs = parse_process(version.process_id, version.bpmn_xml, list(version.decisions))
    task_specs = all_task_specs(spec, subprocess_specs)
    default_role = getattr(version, "default_role", None)
    tasks = {ts.bpmn_id: task_meta(ts, lane_roles, default_role) for ts in task_specs if is_human_task(ts)}
    start = start_event(spec)
    start_meta = task_meta(start, lane_roles) if start is not None else None
    return ProcessBundle(
        version_id=version.id,
        version_number=version.number,
        process_id=version.process_id,
        name=spec.description or version.process_id,
        spec=spec,
        subprocess_specs=subprocess_specs,
        tasks=tasks,
        forms={key: FormDefinition.from_dict(key, dict(definition)) for key, definition in version.forms.items()},
        start_role=start_meta.role if start_meta and start_meta.lane else None,
        start_form_key=start_meta.form_key if start_meta else None,
        external_tasks={ts.bpmn_id: task_meta(ts, lane_roles, default_role) for ts in task_specs
                        if is_external_task(ts)},
        has_messages=any(isinstance(definition, MessageEventDefinition)
                         for ts in task_specs for definition in event_definitions(ts)),
    )


class SpecCache:
    """Bundles by version id, least recently used first out. Safe to share between threads."""

    def __init__(self, lane_roles: LaneRoles, size: int = 256) -> None:
        self._lane_roles = lane_roles
        self._size = size
        self._items: OrderedDict[int, ProcessBundle] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version_id: int, load_version: Callable[[], Any]) -> ProcessBundle:
        """The bundle of a version; ``load_version`` reads its row, and is called only on a cache miss."""
        with self._lock:
            bundle = self._items.get(version_id)
            if bundle is not None:
                self._items.move_to_end(version_id)
                return bundle
        # Parse outside the lock: two threads may both parse a cold version, which is harmless.
        bundle = build_bundle(load_version(), self._lane_roles)
        with self._lock:
            self._items[version_id] = bundle
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return bundle
