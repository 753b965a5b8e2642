"""The task-list query: fast at 100,000 open tasks, exact in its totals. ``Store.list_tasks`` calls it.

A task list asks for "open tasks in any of my queues (role x practice), unassigned or mine, not barred
from me". As one OR'ed query, the database would sort every match to find the first page. Instead the
request is split into disjoint *branches* that each match an index prefix with equalities only (one per
queue and assignee case, or one per practice):

- a page is a bounded, ordered index walk per branch, merged (``UNION ALL`` of ``ORDER BY ... LIMIT``);
- the total is a sum of index-only range counts per branch, minus the caller's few barred tasks.

Building such statements in SQLAlchemy costs more than running them, so each *shape* of request (which
branches, which filters) is built once, with bound parameters, and cached.
"""

from __future__ import annotations

import functools
import operator
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)

from engine.models import HumanTask, ProcessInstance, TaskExclusion
from engine.prepared import Prepared
from engine.states import TaskStatus

ANYONE = object()  # an assignee option: no condition on the assignee
COLUMNS = {"practice": HumanTask.practice, "role": HumanTask.role, "assignee": HumanTask.assignee,
           "process_key": HumanTask.process_key, "instance_id": HumanTask.instance_id, "status": HumanTask.status}


@dataclass(frozen=True)
class Condition:
    """``column op value``; ``op`` is eq, null, in (a list), open (status is open), or assignees (any of)."""

    column: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Plan:
    branches: tuple[tuple[Condition, ...], ...]
    common: tuple[Condition, ...]
    barred_for: str | None  # leave out tasks this user is barred from
    sort: str = "created"  # "created": oldest first; "due": earliest due date first, tasks without one last


@dataclass(frozen=True)
class Statements:
    page: Select[Any]
    count: Select[Any]
    barred: Select[Any] | None
    quick: Quick | None = None  # the same, prepared, when the shape binds no list (``IN`` over values)


@dataclass(frozen=True)
class Quick:
    """The statements of a shape prepared for the driver's cursor (``engine.prepared``); the page's rows carry
    their record's data (``record_data``), so that a list is one statement for the page and one for its total."""

    page: Prepared
    count: Prepared
    barred: Prepared | None


def assignee_condition(assignee: Any) -> Condition | None:
    if assignee is ANYONE:
        return None
    return Condition("assignee", "null") if assignee is None else Condition("assignee", "eq", assignee)


def statuses_condition(statuses: tuple[TaskStatus, ...]) -> Condition:
    if statuses == (TaskStatus.OPEN,):
        return Condition("status", "open")
    return Condition("status", "in", [status.value for status in statuses])


# -- statements per shape ---------------------------------------------------------------------------------

_cache: dict[Any, Statements] = {}
_cache_lock = threading.Lock()


def statements_for(plan: Plan) -> tuple[Statements, dict[str, Any]]:
    """The cached statements for the plan's shape, and the parameters that fill them in."""
    shape = (tuple(tuple((c.column, c.op) for c in branch) for branch in plan.branches),
             tuple((c.column, c.op) for c in plan.common), plan.barred_for is not None, plan.sort)
    params: dict[str, Any] = {}
    for number, branch in enumerate(plan.branches):
        for position, condition in enumerate(branch):
            _bind(params, f"b{number}_{position}", condition)
    for position, condition in enumerate(plan.common):
        _bind(params, f"c{position}", condition)
    if plan.barred_for is not None:
        params["me"] = plan.barred_for
    with _cache_lock:
        statements = _cache.get(shape)
    if statements is None:
        statements = _build(plan)
        with _cache_lock:
            _cache[shape] = statements
    return statements, params


def _bind(params: dict[str, Any], name: str, condition: Condition) -> None:
    if condition.op in ("eq", "in"):
        params[name] = condition.value
    elif condition.op == "assignees":
        params[name] = next(value for value in condition.value if value is not None)


def _clause(name: str, condition: Condition) -> ColumnElement[bool]:
    column = COLUMNS[condition.column]
    if condition.op == "eq":
        return column == bindparam(name)
    if condition.op == "null":
        return column.is_(None)
    if condition.op == "in":
        return column.in_(bindparam(name, expanding=True))
    if condition.op == "open":
        # A literal, not a parameter: PostgreSQL uses the partial indexes on open tasks only when it can
        # see at planning time that the query implies their condition.
        return column == literal_column("'open'")
    if condition.op == "assignees":  # unassigned, or one given user
        return or_(column.is_(None), column == bindparam(name))
    raise ValueError(condition.op)


def _order(columns: Any, sort: str) -> tuple[Any, ...]:
    """Oldest first; or soonest due first, then oldest, with the tasks that have no due date last on both
    databases (SQLite would put NULL first). Used on the few rows the walks found, not on a whole queue."""
    if sort == "due":
        return case((columns.due_at.is_(None), 1), else_=0), columns.due_at, columns.created_at, columns.id
    return columns.created_at, columns.id


def _build(plan: Plan) -> Statements:
    branches = [and_(true(), *(_clause(f"b{n}_{p}", c) for p, c in enumerate(branch)))
                for n, branch in enumerate(plan.branches)]
    common = [_clause(f"c{p}", c) for p, c in enumerate(plan.common)]
    barred = None
    if plan.barred_for is not None:
        barred = exists().where(TaskExclusion.task_id == HumanTask.id, TaskExclusion.username == bindparam("me"))
    walks = []
    for branch in branches:
        # By due date, each branch is two ordered walks, dated then undated tasks: each matches an index
        # prefix with equalities only, on both databases (SQLite keeps NULLs first in an index, and
        # PostgreSQL does not take "IS NULL" as fixing a column for the order).
        parts = ([(HumanTask.due_at.is_not(None), (HumanTask.due_at, HumanTask.created_at, HumanTask.id)),
                  (HumanTask.due_at.is_(None), (HumanTask.created_at, HumanTask.id))] if plan.sort == "due"
                 else [(true(), (HumanTask.created_at, HumanTask.id))])
        for condition, order in parts:
            walk = select(HumanTask.id, HumanTask.due_at, HumanTask.created_at).where(branch, condition, *common)
            if barred is not None:
                walk = walk.where(~barred)
            walks.append(walk.order_by(*order).limit(bindparam("keep")).subquery())
    merged = (union_all(*(select(w.c.id, w.c.due_at, w.c.created_at) for w in walks)).subquery()
              if len(walks) > 1 else walks[0])
    page_ids = (select(merged.c.id).order_by(*_order(merged.c, plan.sort))
                .limit(bindparam("per_page")).offset(bindparam("offset")))
    page = select(HumanTask).where(HumanTask.id.in_(page_ids)).order_by(*_order(HumanTask.__table__.c, plan.sort))
    counts = [select(func.count()).select_from(HumanTask).where(branch, *common).scalar_subquery()
              for branch in branches]
    count = select(functools.reduce(operator.add, counts))
    barred_count = None
    if barred is not None:
        # Few users are barred from few tasks: subtract those rather than test every counted row.
        barred_count = (select(func.count()).select_from(TaskExclusion)
                        .join(HumanTask, HumanTask.id == TaskExclusion.task_id)
                        .where(TaskExclusion.username == bindparam("me"), or_(*branches), *common))
    quick = None
    if not any(condition.op == "in" for branch in plan.branches for condition in (*branch, *plan.common)):
        with_records = (select(*HumanTask.__table__.c, ProcessInstance.data.label("record_data"))
                        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                        .where(HumanTask.id.in_(page_ids)).order_by(*_order(HumanTask.__table__.c, plan.sort)))
        quick = Quick(Prepared(with_records), Prepared(count),
                      Prepared(barred_count) if barred_count is not None else None)
    return Statements(page, count, barred_count, quick)
