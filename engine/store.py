"""Every query the engine makes. Commands and the API build no SQL; they call these methods."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, delete, func, insert, literal_column, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, undefer

from engine import task_list
from engine.models import (
    BusinessKeySequence,
    Event,
    ExternalTask,
    HumanTask,
    Incident,
    MessageSubscription,
    ProcessInstance,
    ProcessModel,
    ProcessVersion,
    TaskExclusion,
)
from engine.prepared import Prepared
from engine.states import EventType, ExternalTaskStatus, InstanceStatus, TaskStatus

ALL_PRACTICES = "*"  # a grant or a query for every practice; the same word and value as roles.policy
LIVE_TASK = (TaskStatus.OPEN, TaskStatus.SUSPENDED)


# Reads on every task list and task page, prepared for the driver's cursor (see engine.prepared).
_PRACTICE_OF = Prepared(select(ProcessModel.practice).where(ProcessModel.key == bindparam("key")))
_TASK_ROW = Prepared(select(*HumanTask.__table__.c).where(HumanTask.id == bindparam("id")))
_INSTANCE_ROW = Prepared(select(*(column for column in ProcessInstance.__table__.c if column.key != "state"))
                         .where(ProcessInstance.id == bindparam("id")))
_LIVE_TASK_ROWS = Prepared(select(*HumanTask.__table__.c)
                           .where(HumanTask.instance_id == bindparam("instance_id"),
                                  HumanTask.status.in_([bindparam("open", TaskStatus.OPEN.value),
                                                        bindparam("suspended", TaskStatus.SUSPENDED.value)]))
                           .order_by(HumanTask.created_at, HumanTask.id))
_TASKS = cast(Table, HumanTask.__table__)
_SET_TASK_STATUS = Prepared(update(_TASKS).where(HumanTask.id == bindparam("task_id"))
                            .values(status=bindparam("status")))
_COMPLETE_TASK = Prepared(update(_TASKS).where(HumanTask.id == bindparam("task_id"))
                          .values(status=bindparam("status"), assignee=bindparam("assignee"),
                                  completed_by=bindparam("completed_by"), completed_at=bindparam("completed_at")))
_INSERT_TASK = Prepared(insert(_TASKS))
_INSERT_EVENT = Prepared(insert(cast(Table, Event.__table__)).values(
    at=bindparam("at"), actor=bindparam("actor"), type=bindparam("type"), instance_id=bindparam("instance_id"),
    task_id=bindparam("task_id"), data=bindparam("data")).returning(Event.id))


def _next_key(insert: Any) -> Prepared:
    """The business-key upsert in ``insert``'s dialect (PostgreSQL's and SQLite's spell ON CONFLICT alike)."""
    return Prepared(insert(BusinessKeySequence).values(prefix=bindparam("prefix"), last_value=1)
                    .on_conflict_do_update(index_elements=[BusinessKeySequence.prefix],
                                           set_={"last_value": BusinessKeySequence.last_value + 1})
                    .returning(BusinessKeySequence.last_value))


# Every start takes a business key and looks up its process's latest version.
_NEXT_KEY = {"postgresql": _next_key(postgresql.insert), "sqlite": _next_key(sqlite.insert)}
_MODEL_REF = Prepared(select(ProcessModel.id, ProcessModel.key, ProcessModel.practice)
                      .where(ProcessModel.key == bindparam("key")))
_MODEL_AND_VERSION = (select(ProcessModel.id, ProcessModel.key, ProcessModel.practice,
                             ProcessVersion.id.label("version_id"), ProcessVersion.number)
                      .join(ProcessVersion, ProcessVersion.model_id == ProcessModel.id, isouter=True)
                      .where(ProcessModel.key == bindparam("key")))
_LATEST_VERSION = Prepared(_MODEL_AND_VERSION.order_by(ProcessVersion.number.desc()).limit(1))
_NUMBERED_VERSION = Prepared(_MODEL_AND_VERSION.where(ProcessVersion.number == bindparam("number")))


@dataclass(frozen=True)
class ModelRef:
    """A process model's identity, as commands that start instances need it."""

    id: int
    key: str
    practice: str


@dataclass(frozen=True)
class VersionRef:
    """One deployed version of a model: its row id and its number."""

    id: int
    number: int


PAGE_SIZE = 20  # a list's default page size, in the API, the web app and the engine


@dataclass(frozen=True)
class PageRequest:
    """1-based page number and page size."""

    page: int = 1
    per_page: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class TaskQuery:
    """Which human tasks to list.

    ``queues`` are (role, practice) pairs the caller works in (practice ``*`` for all) and restricts to
    tasks the caller could act on; ``practices`` restricts to tasks the caller may see. ``None`` means no
    restriction (admins). ``workable_by`` keeps tasks that user may take now: unassigned or theirs, and
    not barred by separation of duties.
    """

    statuses: tuple[TaskStatus, ...] = (TaskStatus.OPEN,)
    queues: tuple[tuple[str, str], ...] | None = None
    practices: tuple[str, ...] | None = None
    workable_by: str | None = None
    assignee: str | None = None
    unassigned: bool = False
    process_key: str | None = None
    instance_id: int | None = None
    role: str | None = None
    sort: str = "created"  # or "due"


@dataclass(frozen=True)
class InstanceQuery:
    """Which instances to list; ``practices`` as in ``TaskQuery``."""

    practices: tuple[str, ...] | None = None
    process_key: str | None = None
    statuses: tuple[InstanceStatus, ...] = ()
    started_by: str | None = None
    business_key: str | None = None
    service: str | None = None  # the record's affected service (its data's ``affected_service``)
    started_from: datetime | None = None
    started_until: datetime | None = None  # exclusive


@dataclass
class Listing:
    """A page of rows and the total number of matches."""

    items: list[Any]
    total: int


class Store:
    """The engine's queries, bound to one session (one transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        # Every row this transaction staged through ``add`` and ``add_event``, in order: what the engine's
        # command listeners read (``Engine.listen``) to write their own rows in the same transaction.
        self.written: list[Any] = []

    # -- business keys -----------------------------------------------------------------------------

    def next_business_key(self, prefix: str) -> str:
        """The next key for ``prefix`` (``CHG-000042``); an atomic upsert, safe under concurrency."""
        statement = _NEXT_KEY[self.dialect]
        number = statement.scalar(self.session.connection(), {"prefix": prefix})
        return f"{prefix}-{number:06d}"

    # -- process models and versions ---------------------------------------------------------------

    def get_model(self, key: str, *, lock: bool = False) -> ProcessModel | None:
        statement = select(ProcessModel).where(ProcessModel.key == key)
        if lock:
            statement = statement.with_for_update()
        return self.session.scalars(statement).first()

    def model_and_version(self, key: str, number: int | None) -> tuple[ModelRef | None, VersionRef | None]:
        """A model and one of its versions (the latest when ``number`` is None), in one query: every start
        asks, so it is a prepared read of the few columns callers use."""
        connection = self.session.connection()
        if number is None:
            row = _LATEST_VERSION.first(connection, {"key": key})
        else:
            row = _NUMBERED_VERSION.first(connection, {"key": key, "number": number})
            if row is None:
                model = _MODEL_REF.first(connection, {"key": key})
                return (ModelRef(model.id, model.key, model.practice) if model else None), None
        if row is None:
            return None, None
        model_ref = ModelRef(row.id, row.key, row.practice)
        return model_ref, (VersionRef(row.version_id, row.number) if row.version_id is not None else None)

    def version_with_hash(self, model_id: int, sha256: str) -> ProcessVersion | None:
        statement = select(ProcessVersion).where(ProcessVersion.model_id == model_id,
                                                 ProcessVersion.sha256 == sha256)
        return self.session.scalars(statement).first()

    def latest_version(self, model_id: int) -> ProcessVersion | None:
        statement = (select(ProcessVersion).where(ProcessVersion.model_id == model_id)
                     .order_by(ProcessVersion.number.desc()).limit(1))
        return self.session.scalars(statement).first()

    def get_version(self, version_id: int, *, with_content: bool = False) -> ProcessVersion | None:
        """A version; its BPMN, decisions and forms are read now only if ``with_content``."""
        statement = select(ProcessVersion).where(ProcessVersion.id == version_id)
        if with_content:
            statement = statement.options(undefer(ProcessVersion.bpmn_xml), undefer(ProcessVersion.decisions),
                                          undefer(ProcessVersion.forms))
        return self.session.scalars(statement).first()

    def version_by_number(self, model_id: int, number: int) -> ProcessVersion | None:
        statement = select(ProcessVersion).where(ProcessVersion.model_id == model_id,
                                                 ProcessVersion.number == number)
        return self.session.scalars(statement).first()

    def list_models(self, practices: Sequence[str] | None, page: PageRequest) -> Listing:
        """Models with their latest version, ordered by key."""
        latest = (select(ProcessVersion.model_id, func.max(ProcessVersion.number).label("number"))
                  .group_by(ProcessVersion.model_id).subquery())
        statement = (select(ProcessModel, latest.c.number)
                     .join(latest, latest.c.model_id == ProcessModel.id, isouter=True))
        if practices is not None:
            statement = statement.where(ProcessModel.practice.in_(practices))
        return self._page(statement.order_by(ProcessModel.key), page, rows=True)

    def list_versions(self, model_id: int, page: PageRequest) -> Listing:
        statement = (select(ProcessVersion).where(ProcessVersion.model_id == model_id)
                     .order_by(ProcessVersion.number.desc()))
        return self._page(statement, page)

    # -- instances ---------------------------------------------------------------------------------

    def get_instance(self, instance_id: int, *, lock: bool = False, with_state: bool = False,
                     skip_locked: bool = False) -> ProcessInstance | None:
        """An instance; ``lock`` holds its row until the transaction ends, ``with_state`` reads its state now.
        ``skip_locked``: None when another transaction holds it, instead of waiting (PostgreSQL)."""
        statement = select(ProcessInstance).where(ProcessInstance.id == instance_id)
        if with_state:
            statement = statement.options(undefer(ProcessInstance.state))
        if lock:
            statement = statement.with_for_update(skip_locked=skip_locked)
        return self.session.scalars(statement).first()

    # -- writing -----------------------------------------------------------------------------------

    def add(self, row: Any, *, flush: bool = False) -> None:
        """Stage a new row; ``flush`` writes it now, when the caller needs its generated id."""
        self.session.add(row)
        self.written.append(row)
        if flush:
            self.session.flush()

    def flush(self) -> None:
        """Write what this transaction staged, so that the queries after it see it."""
        self.session.flush()

    def savepoint(self) -> AbstractContextManager[Any]:
        """A nested transaction: an exception inside it rolls back its writes only."""
        return self.session.begin_nested()

    @property
    def reads_under_write_lock(self) -> bool:
        """SQLite writers take the database lock before their first read, so nothing they read is stale."""
        return self.dialect == "sqlite"

    def instance_by_business_key(self, business_key: str) -> ProcessInstance | None:
        statement = select(ProcessInstance).where(ProcessInstance.business_key == business_key)
        return self.session.scalars(statement).first()

    def list_instances(self, query: InstanceQuery, page: PageRequest) -> Listing:
        statement = select(ProcessInstance)
        if query.practices is not None:
            if not query.practices:
                return Listing([], 0)
            if ALL_PRACTICES not in query.practices:
                statement = statement.where(ProcessInstance.practice.in_(query.practices))
        if query.process_key:
            statement = statement.where(ProcessInstance.process_key == query.process_key)
        if query.statuses:
            statement = statement.where(ProcessInstance.status.in_(query.statuses))
        if query.started_by:
            statement = statement.where(ProcessInstance.started_by == query.started_by)
        if query.business_key:
            statement = statement.where(ProcessInstance.business_key == query.business_key)
        if query.service:
            statement = statement.where(ProcessInstance.data["affected_service"].as_string() == query.service)
        if query.started_from is not None:
            statement = statement.where(ProcessInstance.started_at >= query.started_from)
        if query.started_until is not None:
            statement = statement.where(ProcessInstance.started_at < query.started_until)
        return self._page(statement.order_by(ProcessInstance.id.desc()), page)

    def instance_data(self, instance_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The process data of these instances (for what task lists show of each record)."""
        ids = set(instance_ids)
        if not ids:
            return {}
        rows = self.session.execute(select(ProcessInstance.id, ProcessInstance.data)
                                    .where(ProcessInstance.id.in_(ids)))
        return {row.id: dict(row.data or {}) for row in rows}

    def due_instance_ids(self, now: datetime, limit: int) -> list[int]:
        """Instances with a timer due by ``now``, the longest overdue first (each is locked when fired)."""
        statement = (select(ProcessInstance.id)
                     .where(ProcessInstance.next_timer_at <= now)
                     .order_by(ProcessInstance.next_timer_at, ProcessInstance.id)
                     .limit(limit))
        return list(self.session.scalars(statement))

    def instance_versions(self, version_ids: Iterable[int]) -> dict[int, ProcessVersion]:
        ids = set(version_ids)
        if not ids:
            return {}
        rows = self.session.scalars(select(ProcessVersion).where(ProcessVersion.id.in_(ids)))
        return {row.id: row for row in rows}

    def instances_on_version(self, version_id: int, statuses: Sequence[InstanceStatus], *, after_id: int = 0,
                             limit: int = 100) -> list[ProcessInstance]:
        """Instances of a version in these statuses, by id from ``after_id`` on (a batch of a migration)."""
        statement = (select(ProcessInstance)
                     .where(ProcessInstance.version_id == version_id, ProcessInstance.status.in_(statuses),
                            ProcessInstance.id > after_id)
                     .order_by(ProcessInstance.id).limit(limit))
        return list(self.session.scalars(statement))

    def instance_counts(self, version_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """Per version, how many of its instances are in each status."""
        ids = set(version_ids)
        if not ids:
            return {}
        rows = self.session.execute(select(ProcessInstance.version_id, ProcessInstance.status, func.count())
                                    .where(ProcessInstance.version_id.in_(ids))
                                    .group_by(ProcessInstance.version_id, ProcessInstance.status))
        counts: dict[int, dict[str, int]] = {version_id: {} for version_id in ids}
        for version_id, status, count in rows:
            counts[version_id][InstanceStatus(status).value] = int(count)
        return counts

    # -- human tasks -------------------------------------------------------------------------------

    def get_task(self, task_id: str, *, fresh: bool = False) -> HumanTask | None:
        """A task row; ``fresh`` reads it again from the database even if this session has read it before."""
        if not fresh:
            return self.session.get(HumanTask, task_id)
        statement = select(HumanTask).where(HumanTask.id == task_id).execution_options(populate_existing=True)
        return self.session.scalars(statement).first()

    def task_row(self, task_id: str) -> Any:
        """A task as a plain read-only row (its columns as attributes), or None: for queries, cheaper than
        ``get_task``'s object."""
        return _TASK_ROW.first(self.session.connection(), {"id": task_id})

    def instance_row(self, instance_id: int) -> Any:
        """An instance as a plain read-only row, without its state, or None (see ``task_row``)."""
        return _INSTANCE_ROW.first(self.session.connection(), {"id": instance_id})

    def live_tasks(self, instance_id: int) -> list[HumanTask]:
        """The instance's open (or suspended) human tasks, oldest first."""
        statement = (select(HumanTask)
                     .where(HumanTask.instance_id == instance_id, HumanTask.status.in_(LIVE_TASK))
                     .order_by(HumanTask.created_at, HumanTask.id))
        return list(self.session.scalars(statement))

    def live_task_rows(self, instance_id: int) -> list[Any]:
        """As ``live_tasks``, as plain read-only rows (see ``task_row``): for commands that write back only
        what changed (``set_task_statuses``), without the ORM's unit of work."""
        return _LIVE_TASK_ROWS.rows(self.session.connection(), {"instance_id": instance_id})

    def set_task_statuses(self, statuses: dict[str, TaskStatus]) -> None:
        """Set the status of these tasks (by id)."""
        connection = self.session.connection()
        for task_id, status in statuses.items():
            _SET_TASK_STATUS.rows(connection, {"task_id": task_id, "status": status})

    def mark_task_completed(self, task_id: str, *, completed_by: str, at: datetime, assignee: str) -> None:
        """Write a task's completion now (a plain-row command's counterpart of setting the ORM object's fields)."""
        _COMPLETE_TASK.rows(self.session.connection(), {"task_id": task_id, "status": TaskStatus.COMPLETED,
                                                        "assignee": assignee, "completed_by": completed_by,
                                                        "completed_at": at})

    def insert_task(self, task: HumanTask) -> None:
        """Write a new task row now, from a ``HumanTask`` that is not added to the session."""
        _INSERT_TASK.rows(self.session.connection(), {column.key: getattr(task, column.key)
                                                      for column in HumanTask.__table__.c})
        self.written.append(task)

    def live_tasks_of(self, instance_ids: Iterable[int]) -> dict[int, list[HumanTask]]:
        ids = list(instance_ids)
        result: dict[int, list[HumanTask]] = {instance_id: [] for instance_id in ids}
        if not ids:
            return result
        statement = (select(HumanTask)
                     .where(HumanTask.instance_id.in_(ids), HumanTask.status.in_(LIVE_TASK))
                     .order_by(HumanTask.created_at, HumanTask.id))
        for task in self.session.scalars(statement):
            result[task.instance_id].append(task)
        return result

    def tasks_held_by(self, username: str) -> list[HumanTask]:
        """The open (or suspended) tasks ``username`` holds, oldest first."""
        statement = (select(HumanTask)
                     .where(HumanTask.assignee == username, HumanTask.status.in_(LIVE_TASK))
                     .order_by(HumanTask.instance_id, HumanTask.created_at, HumanTask.id))
        return list(self.session.scalars(statement))

    def completers(self, instance_id: int, element_ids: Iterable[str]) -> dict[str, list[str]]:
        """Who completed each of these user tasks in this instance, in order of completion."""
        ids = list(element_ids)
        result: dict[str, list[str]] = {element_id: [] for element_id in ids}
        if not ids:
            return result
        statement = (select(HumanTask.element_id, HumanTask.completed_by)
                     .where(HumanTask.instance_id == instance_id, HumanTask.element_id.in_(ids),
                            HumanTask.status == TaskStatus.COMPLETED)
                     .order_by(HumanTask.completed_at))
        for element_id, user in self.session.execute(statement):
            if user and user not in result[element_id]:
                result[element_id].append(user)
        return result

    def submissions(self, instance_id: int, element_id: str) -> list[tuple[str, str, datetime, dict[str, Any]]]:
        """The completed instances of one user task in this instance: (task id, completed by, when, the form
        data submitted), in order of completion. Read from the task rows and their ``completed`` events, so
        it holds even when the process moved on past the task (an interrupting timer)."""
        statement = (select(HumanTask.id, HumanTask.completed_by, HumanTask.completed_at, Event.data)
                     .join(Event, (Event.task_id == HumanTask.id) & (Event.type == EventType.COMPLETED))
                     .where(HumanTask.instance_id == instance_id, HumanTask.element_id == element_id,
                            HumanTask.status == TaskStatus.COMPLETED)
                     .order_by(HumanTask.completed_at, Event.id))
        return [(task_id, user or "", at, dict((data or {}).get("data") or {}))
                for task_id, user, at, data in self.session.execute(statement)]

    def instances_at_task(self, element_id: str, practices: Sequence[str] | None) -> list[ProcessInstance]:
        """Instances with an open (or suspended) human task of ``element_id``, in ``practices`` (None: all),
        oldest first: the records waiting at that step (a CAB vote, say)."""
        if practices is not None and not practices:
            return []
        waiting = (select(HumanTask.instance_id)
                   .where(HumanTask.element_id == element_id, HumanTask.status.in_(LIVE_TASK)))
        statement = select(ProcessInstance).where(ProcessInstance.id.in_(waiting)).order_by(ProcessInstance.id)
        if practices is not None and ALL_PRACTICES not in practices:
            statement = statement.where(ProcessInstance.practice.in_(practices))
        return list(self.session.scalars(statement))

    def tasks_of(self, instance_id: int) -> list[HumanTask]:
        """Every human task the instance ever had, in creation order (for its trail and diagram)."""
        statement = (select(HumanTask).where(HumanTask.instance_id == instance_id)
                     .order_by(HumanTask.created_at, HumanTask.id))
        return list(self.session.scalars(statement))

    def exclusions_of(self, task_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """Per task, who is barred from it and why."""
        ids = list(task_ids)
        result: dict[str, dict[str, str]] = {task_id: {} for task_id in ids}
        if ids:
            statement = select(TaskExclusion).where(TaskExclusion.task_id.in_(ids))
            for row in self.session.scalars(statement):
                result[row.task_id][row.username] = row.reason
        return result

    def exclusion(self, task_id: str, username: str) -> str | None:
        """Why ``username`` may not act on the task, or None."""
        statement = select(TaskExclusion.reason).where(TaskExclusion.task_id == task_id,
                                                       TaskExclusion.username == username)
        return self.session.scalars(statement).first()

    def add_exclusions(self, task_id: str, reasons: dict[str, str]) -> None:
        """Bar these users from the task (a user already barred keeps the first reason)."""
        # Rows added earlier in this transaction are not flushed yet, and ``session.get`` does not see them.
        pending = {(row.task_id, row.username) for row in self.session.new if isinstance(row, TaskExclusion)}
        for username, reason in reasons.items():
            if (task_id, username) in pending or self.session.get(TaskExclusion, (task_id, username)) is not None:
                continue
            self.session.add(TaskExclusion(task_id=task_id, username=username, reason=reason))
            pending.add((task_id, username))

    def forget_exclusions(self, task_ids: Iterable[str]) -> None:
        """Drop the bars on tasks that are no longer open: only open tasks need them, and the task list
        subtracts a user's bars from its counts, so they must stay few."""
        ids = list(task_ids)
        if ids:
            self.session.execute(delete(TaskExclusion).where(TaskExclusion.task_id.in_(ids)))

    # -- external tasks ----------------------------------------------------------------------------

    def get_external_task(self, task_id: str, *, fresh: bool = False) -> ExternalTask | None:
        """An external task; ``fresh`` re-reads it (under the instance lock) instead of trusting the session."""
        if not fresh:
            return self.session.get(ExternalTask, task_id)
        statement = select(ExternalTask).where(ExternalTask.id == task_id).execution_options(populate_existing=True)
        return self.session.scalars(statement).first()

    def unfinished_external_tasks(self, instance_id: int) -> list[ExternalTask]:
        """The instance's external tasks that are open or failed (waiting for a retry of the instance)."""
        statement = (select(ExternalTask)
                     .where(ExternalTask.instance_id == instance_id,
                            ExternalTask.status.in_((ExternalTaskStatus.OPEN, ExternalTaskStatus.FAILED)))
                     .order_by(ExternalTask.created_at, ExternalTask.id))
        return list(self.session.scalars(statement))

    def lock_fetchable_external_tasks(self, topics: Sequence[str], queues: Sequence[tuple[str, str]] | None,
                                      now: datetime, limit: int) -> list[ExternalTask]:
        """Open external tasks of these topics that nobody holds, oldest first, locked for this transaction.

        Fetchable means: open, of an active instance, not locked (or its lock expired: a crashed worker's
        task goes back to the queue), past its retry timeout, and in one of the caller's ``queues``
        ((role, practice) pairs, practice ``*`` for all; None for no restriction). Concurrent workers skip
        rows another transaction holds (``SKIP LOCKED`` on PostgreSQL; SQLite serialises writers).
        """
        if not topics or (queues is not None and not queues):
            return []
        statement = (select(ExternalTask)
                     .join(ProcessInstance, ProcessInstance.id == ExternalTask.instance_id)
                     .where(ExternalTask.status == ExternalTaskStatus.OPEN, ExternalTask.topic.in_(list(topics)),
                            ProcessInstance.status.in_((InstanceStatus.RUNNING, InstanceStatus.WAITING)),
                            (ExternalTask.lock_expires_at.is_(None)) | (ExternalTask.lock_expires_at <= now),
                            (ExternalTask.retry_at.is_(None)) | (ExternalTask.retry_at <= now))
                     .order_by(ExternalTask.created_at, ExternalTask.id)
                     .limit(limit)
                     .with_for_update(skip_locked=True, of=ExternalTask))
        if queues is not None:
            pairs = self._expand_queues(tuple(queues))
            if not pairs:
                return []
            statement = statement.where(or_(*(and_(ExternalTask.role == role, ExternalTask.practice == practice)
                                              for role, practice in pairs)))
        return list(self.session.scalars(statement))

    def set_task_status(self, instance_id: int, status: TaskStatus) -> None:
        """Suspend or reopen all live tasks of an instance."""
        self.session.execute(update(HumanTask)
                             .where(HumanTask.instance_id == instance_id, HumanTask.status.in_(LIVE_TASK))
                             .values(status=status))

    def list_tasks(self, query: TaskQuery, page: PageRequest) -> Listing:
        """A page of tasks in creation order and the exact total (see ``engine.task_list``)."""
        plan = self._task_plan(query)
        if plan is None:
            return Listing([], 0)
        statements, params = task_list.statements_for(plan)
        params.update(keep=page.offset + page.per_page, per_page=page.per_page, offset=page.offset)
        items = list(self.session.scalars(statements.page, params))
        total = self.session.execute(statements.count, params).scalar_one()
        if statements.barred is not None:
            total -= self.session.execute(statements.barred, params).scalar_one()
        return Listing(items, total)

    def list_tasks_with_records(self, query: TaskQuery, page: PageRequest) -> Listing:
        """As ``list_tasks``, each item a (task row, its record's data) pair: two statements when the query's
        shape can be prepared (see ``task_list.Quick``), else through ``list_tasks`` and ``instance_data``."""
        plan = self._task_plan(query)
        if plan is None:
            return Listing([], 0)
        statements, params = task_list.statements_for(plan)
        if statements.quick is None:
            listing = self.list_tasks(query, page)
            records = self.instance_data(row.instance_id for row in listing.items)
            return Listing([(row, records.get(row.instance_id, {})) for row in listing.items], listing.total)
        params.update(keep=page.offset + page.per_page, per_page=page.per_page, offset=page.offset)
        quick, connection = statements.quick, self.session.connection()
        items = [(row, dict(row.record_data or {})) for row in quick.page.rows(connection, params)]
        total = quick.count.scalar(connection, params)
        if quick.barred is not None:
            total -= quick.barred.scalar(connection, params)
        return Listing(items, total)

    def queue_counts(self, queues: tuple[tuple[str, str], ...],
                     username: str) -> dict[tuple[str, str], tuple[int, int]]:
        """Per queue (role, practice; ``*`` spelled out), the open tasks ``username`` may take now
        (unassigned or theirs, less those barred from them) and how many of those they hold: one statement of
        index range counts, however many queues."""
        pairs = self._expand_queues(queues)
        if not pairs:
            return {}
        columns = []
        for role, practice in pairs:
            in_queue = (HumanTask.status == literal_column("'open'"), HumanTask.practice == practice,
                        HumanTask.role == role)
            for assignee in (HumanTask.assignee.is_(None), HumanTask.assignee == username):
                columns.append(select(func.count()).select_from(HumanTask).where(*in_queue, assignee).scalar_subquery())
        row = self.session.execute(select(*columns)).one()
        counts = {pair: [row[2 * n] + row[2 * n + 1], row[2 * n + 1]] for n, pair in enumerate(pairs)}
        # Users are barred from few tasks (bars go when tasks close): look those up rather than join, which
        # lets either database start from the wrong table.
        barred = list(self.session.scalars(select(TaskExclusion.task_id).where(TaskExclusion.username == username)))
        if barred:
            statement = select(HumanTask.practice, HumanTask.role).where(
                HumanTask.id.in_(barred), HumanTask.status == TaskStatus.OPEN,
                or_(HumanTask.assignee.is_(None), HumanTask.assignee == username))
            for practice, role in self.session.execute(statement):
                if (role, practice) in counts:
                    counts[(role, practice)][0] -= 1
        return {pair: (workable, held) for pair, (workable, held) in counts.items()}

    def _task_plan(self, query: TaskQuery) -> task_list.Plan | None:
        """The query as disjoint branches plus common conditions, or None when nothing can match."""
        Condition = task_list.Condition
        common = [task_list.statuses_condition(query.statuses)]
        if query.instance_id is not None:
            common.append(Condition("instance_id", "eq", query.instance_id))
        if query.process_key:
            common.append(Condition("process_key", "eq", query.process_key))
        practices = self._expand_practices(query.practices) if query.practices is not None else None
        assignees = self._assignee_options(query)
        if query.queues is not None:
            # A process lives in one practice: the queues of other practices cannot hold its tasks, and walking
            # them would read every task they hold to find none.
            home = self._practice_of(query.process_key) if query.process_key else None
            pairs = [(role, practice) for role, practice in self._expand_queues(query.queues)
                     if (query.role is None or role == query.role) and (practices is None or practice in practices)
                     and (home is None or practice == home)]
            branches = [tuple(c for c in (Condition("practice", "eq", practice), Condition("role", "eq", role),
                                          task_list.assignee_condition(assignee)) if c is not None)
                        for role, practice in pairs for assignee in assignees]
        else:
            if query.role:
                common.append(Condition("role", "eq", query.role))
            if assignees == [None, query.workable_by]:
                common.append(Condition("assignee", "assignees", tuple(assignees)))
            elif assignees and (only := task_list.assignee_condition(assignees[0])) is not None:
                common.append(only)
            if not assignees or practices == []:
                return None
            if practices is None:
                branches = [()]
            elif query.process_key:  # a process lives in one practice: one branch, on the process
                branches = [(Condition("practice", "in", practices),)]
            else:
                branches = [(Condition("practice", "eq", practice),) for practice in practices]
        if not branches:
            return None
        return task_list.Plan(tuple(branches), tuple(common), query.workable_by, query.sort)

    @staticmethod
    def _assignee_options(query: TaskQuery) -> list[Any]:
        """Which assignees a task may have: None (unassigned), a username, or anyone."""
        allowed = [None, query.workable_by] if query.workable_by is not None else [task_list.ANYONE]
        if query.unassigned:
            return [None]
        if query.assignee is not None:
            return [query.assignee] if task_list.ANYONE in allowed or query.assignee in allowed else []
        return allowed

    def _practice_of(self, process_key: str) -> str | None:
        practice = _PRACTICE_OF.scalar(self.session.connection(), {"key": process_key})
        return None if practice is None else str(practice)

    def _known_practices(self) -> list[str]:
        return list(self.session.scalars(select(ProcessModel.practice).distinct()))

    def _expand_practices(self, practices: tuple[str, ...]) -> list[str] | None:
        if ALL_PRACTICES in practices:
            return None
        return sorted(set(practices))

    def _expand_queues(self, queues: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
        """Queues with '*' (every practice) spelled out, so that each matches an index prefix."""
        expanded: set[tuple[str, str]] = set()
        known: list[str] | None = None
        for role, practice in queues:
            if practice == ALL_PRACTICES:
                known = self._known_practices() if known is None else known
                expanded.update((role, each) for each in known)
            else:
                expanded.add((role, practice))
        return sorted(expanded)

    # -- audit trail and incidents -----------------------------------------------------------------

    def add_event(self, *, at: datetime, actor: str, type: EventType, instance_id: int | None,
                  task_id: str | None = None, data: dict[str, Any] | None = None) -> Event:
        """Append an event to the trail, written at once (so the trail keeps the order of the calls); the
        answer is a detached row with its id."""
        event = Event(at=at, actor=actor, type=type, instance_id=instance_id, task_id=task_id, data=data or {})
        event.id = _INSERT_EVENT.scalar(self.session.connection(), {
            "at": at, "actor": actor, "type": type, "instance_id": instance_id, "task_id": task_id,
            "data": event.data})
        self.written.append(event)
        return event

    def list_events(self, instance_id: int, page: PageRequest) -> Listing:
        statement = select(Event).where(Event.instance_id == instance_id).order_by(Event.id)
        return self._page(statement, page)

    def open_incident(self, instance_id: int) -> Incident | None:
        statement = (select(Incident).where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None))
                     .order_by(Incident.id.desc()))
        return self.session.scalars(statement).first()

    # -- message subscriptions ---------------------------------------------------------------------

    def waiting_reasons(self, instance: ProcessInstance) -> list[dict[str, Any]]:
        """What a waiting instance waits for, read off the mirror tables (no workflow is loaded)."""
        if instance.status is not InstanceStatus.WAITING:
            return []
        reasons: list[dict[str, Any]] = [{"kind": "message", "name": name} for name in
                                         sorted({s.message_name for s in self.subscriptions(instance.id)})]
        reasons += [{"kind": "external_task", "element_id": task.element_id, "topic": task.topic}
                    for task in self.unfinished_external_tasks(instance.id)
                    if task.status is ExternalTaskStatus.OPEN]
        if instance.next_timer_at is not None:
            reasons.append({"kind": "timer", "due_at": instance.next_timer_at.isoformat()})
        return reasons

    def subscriptions(self, instance_id: int) -> list[MessageSubscription]:
        statement = select(MessageSubscription).where(MessageSubscription.instance_id == instance_id)
        return list(self.session.scalars(statement))

    def replace_subscriptions(self, instance_id: int, wanted: set[tuple[str, str]]) -> None:
        """Make the instance's subscriptions exactly ``wanted`` (message name, correlation JSON)."""
        current = {(s.message_name, s.correlation): s for s in self.subscriptions(instance_id)}
        for key, subscription in current.items():
            if key not in wanted:
                self.session.delete(subscription)
        for name, correlation in wanted - current.keys():
            self.session.add(MessageSubscription(instance_id=instance_id, message_name=name,
                                                 correlation=correlation))

    def clear_subscriptions(self, instance_id: int) -> None:
        self.session.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == instance_id))

    def subscribers(self, message_name: str, correlation: str | None, business_key: str | None,
                    limit: int = 10, practices: tuple[str, ...] | None = None) -> list[ProcessInstance]:
        """Instances waiting for the message whose correlation (and business key) match, in ``practices``
        only (None: all)."""
        if practices is not None and not practices:
            return []
        statement = (select(ProcessInstance)
                     .join(MessageSubscription, MessageSubscription.instance_id == ProcessInstance.id)
                     .where(MessageSubscription.message_name == message_name)
                     .distinct().order_by(ProcessInstance.id).limit(limit))
        if correlation is not None:
            statement = statement.where(MessageSubscription.correlation == correlation)
        if business_key is not None:
            statement = statement.where(ProcessInstance.business_key == business_key)
        if practices is not None and ALL_PRACTICES not in practices:
            statement = statement.where(ProcessInstance.practice.in_(practices))
        return list(self.session.scalars(statement))

    # -- paging ------------------------------------------------------------------------------------

    def _page(self, statement: Select[Any], page: PageRequest, *, rows: bool = False) -> Listing:
        total = self.session.execute(
            select(func.count()).select_from(statement.order_by(None).subquery())
        ).scalar_one()
        paged = statement.limit(page.per_page).offset(page.offset)
        items: list[Any] = list(self.session.execute(paged)) if rows else list(self.session.scalars(paged))
        return Listing(items, total)
