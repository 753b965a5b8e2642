"""Keeping an instance's live state small, however long it has run.

SpiffWorkflow keeps every task an instance ever ran, and walks the whole tree several times per step, so
the cost of each operation grows with the instance's history (and a long loop eventually trips the
library's iterator depth limit). The history already lives in the audit trail and the human-task table,
so the engine drops the finished part of the tree: it re-roots the tree at the lowest common ancestor of
the tasks that still matter.

Which tasks matter: every unfinished task (ready, waiting, started or predicted) and any task in ERROR
(a retry re-runs it). Everything a future step can consult hangs below their common ancestor: a parallel
join that has not fired always has a waiting join task in the tree, so the branches it waits for stay
below the common ancestor too; boundary events hang under their split, which is an ancestor of the task
they are attached to. The new root keeps its full data, so nothing a later script reads is lost.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.util.task import TaskState

KEEP = TaskState.NOT_FINISHED_MASK | TaskState.ERROR


def compact(workflow: Any) -> int:
    """Drop the finished history of the workflow and its subprocesses; return how many tasks went."""
    removed = _compact_tree(workflow)
    for subprocess in list(workflow.subprocesses.values()):
        removed += _compact_tree(subprocess)
    _drop_orphan_subprocesses(workflow)
    return removed


def tree_depth(workflow: Any) -> int:
    """The depth of the deepest task (iterative: deep trees are what we are guarding against)."""
    deepest, stack = 0, [(workflow.task_tree, 0)]
    while stack:
        task, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in task.children)
    return deepest


def _compact_tree(workflow: Any) -> int:
    keep = [task for task in workflow.tasks.values() if task.has_state(KEEP)]
    if not keep:
        return 0  # finished: nothing will read this tree again
    root = _lowest_common_ancestor(keep)
    if root is workflow.task_tree:
        return 0
    survivors = _subtree_ids(root)
    doomed = [task_id for task_id in workflow.tasks if task_id not in survivors]
    for task_id in doomed:
        del workflow.tasks[task_id]
    root._parent = None
    workflow.task_tree = root
    if workflow.last_task is not None and workflow.last_task.id not in survivors:
        workflow.last_task = None
    return len(doomed)


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
