"""Keeping an instance's live state small, however long it has run.

SpiffWorkflow keeps every task an instance ever ran, and walks the whole tree several times per step, so
the cost of each operation grows with the instance's history (and a long loop eventually trips the
library's iterator depth limit). The history already lives in the audit trail and the human-task table,
so the engine drops the finished part of the tree, in two moves:

1. Re-root the tree at the lowest common ancestor of the tasks that still matter.
2. Splice out finished chains below it: a finished task with a single child, between a task that matters
   (or its parent) and the nearest ancestor that branches. This keeps a loop in one parallel branch
   shallow while another branch waits, which re-rooting alone cannot do (the fork stays the root).

Which tasks matter: every unfinished task (ready, waiting, started or predicted) and any task in ERROR
(a retry re-runs it), each with its parent, because a retry resets a task from its parent. Everything
else a future step consults hangs below their common ancestor, on a path that branches where the
consulted task sits: a parallel join that has not fired has a waiting join task whose parent is the
branch's last task; boundary events hang under their split. Splicing keeps every remaining task's
ancestors in the same order, so "is a descendant of" answers as before, and a task that has not yet
inherited its parent's data always keeps that parent.

One moment is off limits: a join that is ready to run merges the data of the other branches' join tasks
(their parents' data), so nothing is compacted until it has run.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState

KEEP = TaskState.NOT_FINISHED_MASK | TaskState.ERROR


def compact(workflow: Any) -> int:
    """Drop the finished history of the workflow and its subprocesses; return how many tasks went."""
    if _join_ready(workflow):
        return 0
    removed = _compact_tree(workflow, top_level=True)
    for subprocess in list(workflow.subprocesses.values()):
        removed += _compact_tree(subprocess)
    _drop_orphan_subprocesses(workflow)
    return removed


def _compact_tree(workflow: Any, *, top_level: bool = False) -> int:
    keep = [task for task in workflow.tasks.values() if task.has_state(KEEP)]
    if not keep:
        # Finished. A finished subprocess may still be read by its caller, so it is left alone; a finished
        # instance keeps only its last task (its data is in ``workflow.data``), not a long history.
        if not top_level or workflow.last_task is None:
            return 0
        keep = [workflow.last_task]
    return _reroot(workflow, keep) + _splice_chains(workflow, keep)


def _reroot(workflow: Any, keep: list[Any]) -> int:
    root = _lowest_common_ancestor(keep)
    if root.has_state(KEEP) and root.parent is not None:
        root = root.parent  # re-running a task (a retry) resets it from its parent, which must stay
    if root is workflow.task_tree:
        return 0
    survivors = _subtree_ids(root)
    doomed = [task_id for task_id in workflow.tasks if task_id not in survivors]
    for task_id in doomed:
        del workflow.tasks[task_id]
    root._parent = None
    workflow.task_tree = root
    _forget_last_task(workflow)
    return len(doomed)


def _splice_chains(workflow: Any, keep: list[Any]) -> int:
    """Remove finished single-child tasks above each kept task's parent, up to the nearest branching one."""
    removed = 0
    for task in keep:
        anchor = task.parent  # stays: the kept task inherited (or will inherit) from it
        if anchor is None or anchor.has_state(KEEP):
            continue  # an unfinished parent is a kept task too, and is handled as one
        chain, above = [], anchor.parent
        while (above is not None and above is not workflow.task_tree and not above.has_state(KEEP)
               and len(above._children) == 1):
            chain.append(above)
            above = above.parent
        if not chain or above is None:
            continue
        above._children[above._children.index(chain[-1].id)] = anchor.id
        anchor._parent = above.id
        for doomed in chain:
            del workflow.tasks[doomed.id]
        removed += len(chain)
    if removed:
        _forget_last_task(workflow)
    return removed


def _forget_last_task(workflow: Any) -> None:
    if workflow.last_task is not None and workflow.last_task.id not in workflow.tasks:
        workflow.last_task = None


def _join_ready(workflow: Any) -> bool:
    workflows = [workflow, *workflow.subprocesses.values()]
    return any(isinstance(task.task_spec, UnstructuredJoin) and task.has_state(TaskState.READY)
               for each in workflows for task in each.tasks.values())


def _lowest_common_ancestor(tasks: list[Any]) -> Any:
    path = _path_from_root(tasks[0])
    depth_of = {task.id: depth for depth, task in enumerate(path)}
    deepest_common = len(path) - 1
    for task in tasks[1:]:
        node = task
        while node.id not in depth_of:
            node = node.parent
        deepest_common = min(deepest_common, depth_of[node.id])
    return path[deepest_common]


def _path_from_root(task: Any) -> list[Any]:
    path = []
    node = task
    while node is not None:
        path.append(node)
        node = node.parent
    path.reverse()
    return path


def _subtree_ids(root: Any) -> set[Any]:
    ids, stack = set(), [root]
    while stack:
        task = stack.pop()
        ids.add(task.id)
        stack.extend(task.children)
    return ids


def _drop_orphan_subprocesses(workflow: Any) -> None:
    """Forget subprocesses whose calling task was compacted away (they finished long ago)."""
    live_ids = set(workflow.tasks)
    for subprocess in workflow.subprocesses.values():
        live_ids.update(subprocess.tasks)
    for task_id in [task_id for task_id in workflow.subprocesses if task_id not in live_ids]:
        del workflow.subprocesses[task_id]
