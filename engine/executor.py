"""The engine: runs each command in its own transaction, and answers queries from the mirror tables."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol, TypeVar

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.clock import Clock, SystemClock
from engine.commands import TIMER_ATTEMPTS, CorrelateMessage, FireTimers, RecordTimerFailure
from engine.context import SYSTEM_ACTOR, Authorizer, CommandContext, allow_all
from engine.database import Database
from engine.errors import Conflict, NotFound
from engine.runtime import TIME_BUDGET
from engine.sandbox import SCRIPT_TIME_LIMIT, SandboxEnvironment
from engine.scripting import ScriptEngine
from engine.serialization import StateCodec
from engine.services import ServiceRegistry
from engine.specs import LaneRoles, ProcessBundle, SpecCache, all_task_specs, start_event
from engine.states import InstanceStatus, TaskStatus
from engine.store import InstanceQuery, Listing, PageRequest, Store, TaskQuery
from engine.version_diff import ElementChange, diff_versions
from engine.views import (
    DiagramView,
    EventView,
    InstanceFacts,
    InstanceView,
    ModelView,
    MyWork,
    RecordView,
    StartForm,
    TaskDetail,
    TaskView,
    VersionView,
)
from forms import FormDefinition, to_json_schema, uses_choice_lists

log = logging.getLogger(__name__)
ChoiceLists = Callable[[Session], Mapping[str, Sequence[str]]]
"""The server lists forms pick from (``choices_from``), read in a session: ``{"services": [...]}``."""
Result = TypeVar("Result")
Result_co = TypeVar("Result_co", covariant=True)


class Command(Protocol[Result_co]):
    def execute(self, ctx: CommandContext) -> Result_co: ...


CommandListener = Callable[[CommandContext], None]
"""Called inside each command's transaction after it ran (see ``Engine.listen``)."""
CancelListener = Callable[[CommandContext, InstanceFacts], None]
"""Called inside the transaction of the command that cancelled an instance (see ``Engine.when_cancelled``)."""


class Engine:
    """Changeflow's process engine. Knows nothing of HTTP; the API and the CLI drive it.

    ``services`` are the service tasks' operators and ``business_keys`` the key prefix of each practice
    (``{"change": "CHG"}``); the application supplies both (``itsm``), the engine defines neither.
    """

    def __init__(
        self,
        database: Database,
        *,
        lane_roles: LaneRoles,
        clock: Clock | None = None,
        find_form: Callable[[str], FormDefinition | None] = lambda key: None,
        services: ServiceRegistry | None = None,
        business_keys: Mapping[str, str] | None = None,
        script_time_limit: float = SCRIPT_TIME_LIMIT,
        command_time_limit: float = TIME_BUDGET,
        choice_lists: ChoiceLists | None = None,
    ) -> None:
        self.database = database
        self.clock = clock or SystemClock()
        self.lane_roles = lane_roles
        self.find_form = find_form
        self.services = services if services is not None else ServiceRegistry()
        self.business_keys = dict(business_keys or {})
        self.specs = SpecCache(lane_roles)
        self.codec = StateCodec()
        self.sandbox = SandboxEnvironment(self.clock, time_limit=script_time_limit)
        # Wall time a command may spend in engine steps before the instance stops with an incident.
        self.command_time_limit = command_time_limit
        self.choice_lists = choice_lists
        self.listeners: list[CommandListener] = []
        self.cancel_listeners: list[CancelListener] = []

    def choices(self, session: Session, form: FormDefinition | None) -> Mapping[str, Sequence[str]] | None:
        """The server lists ``form``'s ``choices_from`` fields pick from (None when it has none), read in
        ``session`` from the application's ``choice_lists``."""
        if form is None or self.choice_lists is None or not uses_choice_lists(form):
            return None
        return self.choice_lists(session)

    def listen(self, listener: CommandListener) -> None:
        """Call ``listener`` at the end of every command, inside its transaction, with the command's context:
        ``ctx.store.written`` holds the rows it wrote (audit events, human tasks). Whatever the listener writes
        commits or rolls back with the command (the outbox of DESIGN.md §8); what it raises fails the command."""
        self.listeners.append(listener)

    def when_cancelled(self, listener: CancelListener) -> None:
        """Call ``listener`` whenever a command cancels an instance, inside that command and after the
        instance is saved as cancelled, with the instance's facts: the packages that keep records beside an
        instance (the change schedule) close them in the same transaction. What it writes commits or rolls back
        with the cancel, what it raises fails it, and the messages it posts (``ctx.service_context``) are
        delivered before the command ends."""
        self.cancel_listeners.append(listener)

    def bundle(self, store: Store, version_id: int) -> ProcessBundle:
        """The parsed version, from the cache (the version's content is read only on a miss)."""
        return self.specs.get(version_id, lambda: store.get_version(version_id, with_content=True))

    # -- commands ----------------------------------------------------------------------------------

    def run(self, command: Command[Result], *, actor: str, authorize: Authorizer = allow_all,
            now: datetime | None = None) -> Result:
        """Run one command in one transaction. A lost race rolls everything back and raises ``Conflict``.

        ``now`` is the command's time when it is not the clock's (the timer worker fires what was due by
        the moment it was given).
        """
        prepare = getattr(command, "prepare", None)
        if prepare is not None:  # slow checks that only read (parsing a diagram): before the write lock
            command = prepare(self, authorize)
        try:
            with self.database.transaction() as session:
                ctx = CommandContext(engine=self, store=Store(session), actor=actor, now=now or self.clock.now(),
                                     authorize=authorize)
                result = command.execute(ctx)
                self._deliver_posted_messages(ctx)
                for listener in self.listeners:
                    listener(ctx)
        except StaleDataError as error:
            raise Conflict("The instance changed while this request ran; reload it and try again.") from error
        except IntegrityError as error:
            if "unique" not in str(error.orig).lower():
                raise
            raise Conflict("A concurrent request created the same thing first; reload and try again.") from error
        except OperationalError as error:
            if _is_contention(error):
                raise Conflict("The database is busy with a conflicting change; try again.") from error
            raise
        for hook in ctx.after_commit:
            hook()
        return result

    @staticmethod
    def _deliver_posted_messages(ctx: CommandContext) -> None:
        """Deliver, in the command's transaction, the messages its service tasks posted to other instances.

        The sender already had the right to reach the receiver (``ServiceContext.send_message``). A receiver
        that no longer waits for the message is skipped, and what the attempt wrote is rolled back.
        """
        while ctx.messages:
            name, business_key, payload = ctx.messages.pop(0)
            deliver = CorrelateMessage(name, {"business_key": business_key}, payload)
            try:
                with ctx.store.savepoint():
                    deliver.execute(replace(ctx, authorize=allow_all))
            except (NotFound, Conflict) as error:
                log.info("message %s to %s not delivered: %s", name, business_key, error)

    def fire_due_timers(self, now: datetime | None = None, *, limit: int = 1000) -> int:
        """Fire every timer due by ``now``, one instance per command; return how many instances moved.

        Several workers may run this at once: each locks a due instance with ``SKIP LOCKED`` (PostgreSQL)
        or under SQLite's write lock, and re-checks that it is still due, so no timer fires twice. A
        conflict leaves the instance for the next pass. Any other failure is logged and recorded on the
        instance (``RecordTimerFailure``), which puts it off and in the end stops it with an incident: one
        broken instance never stops the worker nor holds up the others.
        """
        moment = now or self.clock.now()
        with self.database.snapshot() as session:
            due = Store(session).due_instance_ids(moment, limit)
        moved = 0
        for instance_id in due:
            try:
                fired = self.run(FireTimers(instance_id, skip_locked=True), actor=SYSTEM_ACTOR, now=moment)
            except Conflict:
                log.info("the timers of instance %s met a concurrent change; the next pass retries", instance_id)
                continue
            except Exception as error:
                log.exception("firing the timers of instance %s failed", instance_id)
                self._record_timer_failure(instance_id, error, moment)
                continue
            if fired is not None:
                moved += 1
        return moved

    def _record_timer_failure(self, instance_id: int, error: Exception, moment: datetime) -> None:
        try:
            failures = self.run(RecordTimerFailure(instance_id, type(error).__name__, str(error)[:2000]),
                                actor=SYSTEM_ACTOR, now=moment)
        except Exception:
            log.exception("recording the timer failure of instance %s failed too", instance_id)
            return
        if failures is not None and failures >= TIMER_ATTEMPTS:
            log.error("the timers of instance %s failed %d times in a row: it now has an incident",
                      instance_id, failures)

    # -- queries -----------------------------------------------------------------------------------

    def list_tasks(self, query: TaskQuery, page: PageRequest) -> Listing:
        """A page of tasks, each with what the list shows of its record and its SLA state."""
        with self.database.snapshot() as session:
            listing = Store(session).list_tasks_with_records(query, page)
            now = self.clock.now()
            return Listing([TaskView.of(row).with_record(data, now) for row, data in listing.items], listing.total)

    def my_work(self, query: TaskQuery, page: PageRequest, *, username: str, queues: tuple[tuple[str, str], ...],
                practices: tuple[str, ...] | None) -> MyWork:
        """Everything a person's work list shows, read in one transaction: a page of tasks with their records,
        the counts per queue, and the process models of the practices they see (for the filters)."""
        with self.database.snapshot() as session:
            store = Store(session)
            listing = store.list_tasks_with_records(query, page)
            now = self.clock.now()
            tasks = [TaskView.of(row).with_record(data, now) for row, data in listing.items]
            counts = store.queue_counts(queues, username)
            models = store.list_models(practices, PageRequest(1, 200)).items
            return MyWork(Listing(tasks, listing.total), counts,
                          [ModelView.of(model, number) for model, number in models])

    def task_view(self, task_id: str) -> TaskView:
        with self.database.snapshot() as session:
            row = Store(session).get_task(task_id)
            if row is None:
                raise NotFound(f"Task {task_id} does not exist.")
            return TaskView.of(row)

    def task_detail(self, task_id: str, *, authorize: Authorizer = allow_all) -> TaskDetail:
        """A task with its form as JSON Schema (pre-filled from the process data) and that data.

        ``authorize`` sees the task before anything else is read: a caller who may not see it costs one query.
        """
        with self.database.snapshot() as session:
            store = Store(session)
            row = store.task_row(task_id)
            if row is None:
                raise NotFound(f"Task {task_id} does not exist.")
            view = TaskView.of(row)
            authorize(view)
            instance = store.instance_row(row.instance_id)
            if instance is None:  # the foreign key forbids it; a guard for the type checker and for corruption
                raise NotFound(f"Task {task_id} belongs to no instance.")
            data = dict(instance.data)
            form = None
            if row.form_key:
                definition = self.bundle(store, instance.version_id).forms[row.form_key]
                form = {"key": row.form_key, "title": definition.title,
                        "schema": to_json_schema(definition, data, self.choices(session, definition))}
            else:
                definition = None
            return TaskDetail(view, form, data, instance.status, instance.started_by, definition)

    def start_form(self, key: str, number: int | None = None) -> StartForm:
        """The start form of a version (the latest unless ``number`` is given)."""
        with self.database.snapshot() as session:
            store = Store(session)
            model, version = store.model_and_version(key, number)
            if model is None or version is None:
                raise NotFound(f"There is no process '{key}'" + (f" version {number}." if number else "."))
            bundle = self.bundle(store, version.id)
            form = bundle.form(bundle.start_form_key)
            return StartForm(model.key, version.number, model.practice, bundle.start_role, form,
                             self.choices(session, form))

    def list_instances(self, query: InstanceQuery, page: PageRequest) -> Listing:
        with self.database.snapshot() as session:
            store = Store(session)
            listing = store.list_instances(query, page)
            versions = store.instance_versions(row.version_id for row in listing.items)
            tasks = store.live_tasks_of(row.id for row in listing.items)
            views = [InstanceView.of(row, versions[row.version_id].number, tasks[row.id]) for row in listing.items]
            return Listing(views, listing.total)

    def instance_view(self, instance_id: int) -> InstanceView:
        with self.database.snapshot() as session:
            store = Store(session)
            row = store.get_instance(instance_id)
            if row is None:
                raise NotFound(f"Instance {instance_id} does not exist.")
            incident = store.open_incident(row.id) if row.status is InstanceStatus.ERROR else None
            # The version's number is a column: no need to parse (or even read) its BPMN to learn it.
            number = store.instance_versions([row.version_id])[row.version_id].number
            return InstanceView.of(row, number, store.live_tasks(row.id), incident, store.waiting_reasons(row))

    def record(self, instance_id: int | None = None, *, business_key: str | None = None,
               max_events: int = 1000) -> RecordView:
        """An instance (by id or business key) with its tasks, who is barred from the live ones, its trail (the
        first ``max_events``), its BPMN elements' names and its start form: a record's page, in one transaction."""
        with self.database.snapshot() as session:
            store = Store(session)
            row = (store.get_instance(instance_id) if instance_id is not None
                   else store.instance_by_business_key(business_key or ""))
            if row is None:
                raise NotFound(f"There is no record {business_key or instance_id}.")
            instance_id = row.id
            bundle = self.bundle(store, row.version_id)
            incident = store.open_incident(row.id) if row.status is InstanceStatus.ERROR else None
            instance = InstanceView.of(row, bundle.version_number, store.live_tasks(row.id), incident)
            rows = store.tasks_of(instance_id)
            live = [task.id for task in rows if task.status in (TaskStatus.OPEN, TaskStatus.SUSPENDED)]
            exclusions = store.exclusions_of(live)
            events = [EventView.of(event) for event in store.list_events(instance_id, PageRequest(1, max_events)).items]
        names = {}
        for spec in all_task_specs(bundle.spec, bundle.subprocess_specs):
            bpmn_id, name = getattr(spec, "bpmn_id", None), getattr(spec, "bpmn_name", None)
            if bpmn_id and name:
                names[bpmn_id] = name
        return RecordView(instance, [TaskView.of(task) for task in rows], exclusions, events, names,
                          bundle.form(bundle.start_form_key))

    def instance_id_of(self, business_key: str) -> int:
        """The id of the instance with this business key (``CHG-000001``)."""
        with self.database.snapshot() as session:
            row = Store(session).instance_by_business_key(business_key)
            if row is None:
                raise NotFound(f"There is no record {business_key}.")
            return row.id

    def diagram(self, instance_id: int) -> DiagramView:
        """The instance's diagram and where it stands: completed, active and waiting elements.

        Completed elements come from the start event, the human tasks and the audit trail (timers fired,
        messages received, the last steps of a completed instance), and from what the saved state still holds:
        the state is compacted, so automatic steps (scripts, gateways) run by earlier commands are not marked.
        What is active or waiting comes from the saved state, read but never run.
        """
        with self.database.snapshot() as session:
            store = Store(session)
            row = store.get_instance(instance_id, with_state=True)
            if row is None:
                raise NotFound(f"Instance {instance_id} does not exist.")
            version = store.get_version(row.version_id, with_content=True)
            if version is None:  # the foreign key forbids it
                raise NotFound(f"Instance {instance_id} has no version.")
            bundle = self.bundle(store, row.version_id)
            start = start_event(bundle.spec)
            completed: dict[str, None] = {start.bpmn_id: None} if start is not None else {}
            for task in store.tasks_of(instance_id):
                if task.status is TaskStatus.COMPLETED:
                    completed[task.element_id] = None
            for event in store.list_events(instance_id, PageRequest(1, 10_000)).items:
                for element in [event.data.get("element_id"), *(event.data.get("steps") or [])]:
                    if isinstance(element, str):
                        completed[element] = None
            active: list[str] = []
            waiting: list[str] = []
            if not row.status.is_final and row.state and row.state != "{}":
                script_engine = ScriptEngine(self.sandbox, self.services, None, now=self.clock.now())
                workflow = self.codec.loads(row.state, bundle, script_engine)
                for task in workflow.get_tasks(max_depth=100_000):
                    bpmn_id = getattr(task.task_spec, "bpmn_id", None)
                    if not bpmn_id:
                        continue
                    if task.has_state(TaskState.COMPLETED):
                        completed[bpmn_id] = None
                    elif task.has_state(TaskState.READY | TaskState.STARTED | TaskState.ERROR):
                        active.append(bpmn_id)
                    elif task.has_state(TaskState.WAITING):
                        waiting.append(bpmn_id)
                        if isinstance(task.task_spec, EventBasedGateway):  # it waits on the events after it
                            waiting.extend(child.task_spec.bpmn_id for child in task.children
                                           if getattr(child.task_spec, "bpmn_id", None))
            for element in (*active, *waiting):
                completed.pop(element, None)
            return DiagramView(version.bpmn_xml, list(completed), sorted(set(active)), sorted(set(waiting)))

    def list_events(self, instance_id: int, page: PageRequest, *, authorize: Authorizer = allow_all) -> Listing:
        """A page of the instance's audit trail; ``authorize`` sees the instance first (one cheap query)."""
        with self.database.snapshot() as session:
            store = Store(session)
            row = store.get_instance(instance_id)
            if row is None:
                raise NotFound(f"Instance {instance_id} does not exist.")
            authorize(InstanceFacts.of(row))
            listing = store.list_events(instance_id, page)
            return Listing([EventView.of(event) for event in listing.items], listing.total)

    def list_models(self, practices: tuple[str, ...] | None, page: PageRequest) -> Listing:
        with self.database.snapshot() as session:
            listing = Store(session).list_models(practices, page)
            return Listing([ModelView.of(model, number) for model, number in listing.items], listing.total)

    def model_view(self, key: str) -> ModelView:
        with self.database.snapshot() as session:
            store = Store(session)
            model = store.get_model(key)
            if model is None:
                raise NotFound(f"There is no process '{key}'.")
            latest = store.latest_version(model.id)
            return ModelView.of(model, latest.number if latest else None)

    def list_versions(self, key: str, page: PageRequest) -> Listing:
        with self.database.snapshot() as session:
            store = Store(session)
            model = store.get_model(key)
            if model is None:
                raise NotFound(f"There is no process '{key}'.")
            listing = store.list_versions(model.id, page)
            counts = store.instance_counts(row.id for row in listing.items)
            return Listing([VersionView.of(model, row, instances=counts[row.id]) for row in listing.items],
                           listing.total)

    def version_changes(self, key: str, old: int, new: int) -> list[ElementChange]:
        """The elements added, removed and changed from version ``old`` to version ``new`` of a model (version 0
        is the empty diagram, which version 1 adds everything to)."""
        before = self.version_view(key, old).bpmn if old > 0 else None
        return diff_versions(before, self.version_view(key, new).bpmn or "")

    def version_view(self, key: str, number: int) -> VersionView:
        with self.database.snapshot() as session:
            store = Store(session)
            model = store.get_model(key)
            version = store.version_by_number(model.id, number) if model is not None else None
            if model is None or version is None:
                raise NotFound(f"The process '{key}' has no version {number}.")
            return VersionView.of(model, version, with_content=True,
                                  instances=store.instance_counts([version.id])[version.id])

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.database.snapshot() as session:
            session.connection().exec_driver_sql("SELECT 1")


def _is_contention(error: OperationalError) -> bool:
    text = str(error.orig).lower() if error.orig is not None else str(error).lower()
    return any(word in text for word in ("deadlock", "could not serialize", "lock timeout", "database is locked"))

