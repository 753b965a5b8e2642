"""Moving running instances from one version of their process to another.

An instance can move when every task it is at (ready, waiting, started) and every task its saved history
still holds has a counterpart in the target version: the element with the same id, or the one an explicit
mapping names (for renamed elements), of the same kind. What the instance has not reached yet is simply
predicted again from the target version. Nothing is reset: a ready task keeps its id (so its task-list
row, assignee and claims stay), and a waiting timer keeps the moment it fires.

SpiffWorkflow's own ``bpmn.util.diff.migrate_workflow`` resets every ready and waiting task instead,
which restarts timers and gives human tasks new data; here only the predictions are redone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine.compaction import compact
from engine.specs import ProcessBundle

AT = TaskState.READY | TaskState.WAITING | TaskState.STARTED  # where the instance stands
UNREACHED = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE  # predicted again from the target


@dataclass(frozen=True)
class ElementMove:
    """One element an instance is at, and where it goes in the target version (None: nowhere)."""

    element_id: str
    target_id: str | None
    state: str

    def to_dict(self) -> dict[str, Any]:
        return {"element_id": self.element_id, "target_id": self.target_id, "state": self.state}


@dataclass
class MovePlan:
    """Whether one workflow can move to the target version, with the alignment of its task specs."""

    moves: list[ElementMove] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    alignment: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(workflow) -> spec name -> new spec

    @property
    def can_move(self) -> bool:
        return not self.problems


def _element_of(task_spec: Any) -> str:
    """The BPMN element a task spec stands for: its id, or for the library's own helper specs
    (``review.BoundaryEventSplit``, ``proc.EndJoin``) the element they belong to."""
    bpmn_id = getattr(task_spec, "bpmn_id", None)
    return str(bpmn_id) if bpmn_id else re.split(r"[. ]", str(task_spec.name), maxsplit=1)[0]


def _target_name(task_spec: Any, mapping: Mapping[str, str]) -> str:
    element = _element_of(task_spec)
    if element in mapping:
        return mapping[element] + str(task_spec.name)[len(element):]
    return str(task_spec.name)


def _workflows(workflow: Any) -> list[Any]:
    return [workflow, *workflow.subprocesses.values()]


def plan_move(workflow: Any, target: ProcessBundle, mapping: Mapping[str, str]) -> MovePlan:
    """Check that ``workflow`` can run on ``target``; read-only apart from compacting its finished history."""
    compact(workflow)
    plan = MovePlan()
    for each in _workflows(workflow):
        new_spec = target.spec if each is workflow else target.subprocess_specs.get(each.spec.name)
        if new_spec is None:
            plan.problems.append(f"The running subprocess '{each.spec.name}' is not in the target version.")
            continue
        alignment: dict[str, Any] = {}
        for task in each.tasks.values():
            if task.has_state(UNREACHED):
                continue
            spec = task.task_spec
            if spec.name in alignment:
                continue
            name = _target_name(spec, mapping)
            candidate = new_spec.task_specs.get(name)
            if candidate is not None and type(candidate).__name__ != type(spec).__name__:
                plan.problems.append(f"'{_element_of(spec)}' is a {_kind(spec)} but '{_element_of(candidate)}' in the "
                                     f"target version is a {_kind(candidate)}; map it to an element of its kind.")
                candidate = None
            elif candidate is None:
                where = "is at" if task.has_state(AT) else "went through"
                element = _element_of(spec)
                mapped = f" (mapped to '{mapping[element]}')" if element in mapping else ""
                plan.problems.append(f"The instance {where} '{element}'{mapped}, which the target "
                                     "version lacks; map it to an element of the target version.")
            alignment[spec.name] = candidate
        plan.alignment[id(each)] = alignment
        for task in each.tasks.values():
            if task.has_state(AT) and task.task_spec.bpmn_id is not None:
                candidate = alignment.get(task.task_spec.name)
                plan.moves.append(ElementMove(task.task_spec.bpmn_id,
                                              candidate.bpmn_id if candidate is not None else None,
                                              TaskState.get_name(task.state).lower()))
    plan.moves.sort(key=lambda move: move.element_id)
    return plan


def apply_move(workflow: Any, target: ProcessBundle, plan: MovePlan) -> None:
    """Point ``workflow`` (and its subprocesses) at ``target``'s specs, and predict what is ahead again."""
    if not plan.can_move:
        raise ValueError("the plan has problems; check can_move first")
    for each in _workflows(workflow):
        alignment = plan.alignment[id(each)]
        each.spec = target.spec if each is workflow else target.subprocess_specs[each.spec.name]
        unreached = [task for task in each.tasks.values() if task.has_state(UNREACHED)
                     and (task.parent is None or not task.parent.has_state(UNREACHED))]
        for task in unreached:
            if task.id in each.tasks:
                each._remove_task(task.id)
        for task in each.tasks.values():
            task.task_spec = alignment[task.task_spec.name]
        for task in list(each.tasks.values()):
            if task.has_state(AT):
                task.task_spec._predict(task, mask=UNREACHED | task.state)
    workflow.subprocess_specs = dict(target.subprocess_specs)


def _kind(task_spec: Any) -> str:
    return type(task_spec).__name__
