"""The pages people work in: My work, a task, Start, a record, Find."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for

from engine import (
    AddWorkNote,
    CancelInstance,
    ClaimTask,
    CompleteTask,
    FormInvalid,
    InstanceQuery,
    InstanceStatus,
    InvalidInput,
    NotFound,
    PageRequest,
    ResumeInstance,
    RetryInstance,
    SuspendInstance,
    TaskQuery,
    TaskStatus,
    UnclaimTask,
)
from engine.states import EventType
from engine.views import InstanceView, ProcessFacts, RecordView, TaskFacts, TaskView
from roles import accounts
from roles.errors import Denied, DutiesSeparated, Hidden
from roles.policy import Action, Principal, Role, authorizer, check, may
from schedule.commands import StartWithSchedule
from schedule.views import live_conflicts
from web.context import me, web
from web.forms import html_fields, posted_values, schema_choice_lists, submitted_data

PER_PAGE = 25
RECORD_PATHS = {"change": "changes", "release": "releases"}  # practice -> URL folder of its records
PRACTICE_OF_PATH = {path: practice for practice, path in RECORD_PATHS.items()}


def record_url(business_key: str, practice: str) -> str:
    """The page of a record: /changes/CHG-000001, /releases/REL-000001, else /records/KEY."""
    folder = RECORD_PATHS.get(practice)
    if folder:
        return url_for("web.record", folder=folder, business_key=business_key)
    return url_for("web.other_record", business_key=business_key)


def _page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 100_000))
    except ValueError:
        return 1


@dataclass(frozen=True)
class Pager:
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    def url(self, page: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(page)
        return url_for(request.endpoint or "web.inbox", **(request.view_args or {}), **args)


# -- My work ----------------------------------------------------------------------------------------------


def inbox() -> Any:
    """My work: the open tasks I can act on now, soonest due first, with counts per queue."""
    principal = me()
    process = request.args.get("process") or None
    role = request.args.get("role") or None
    if role not in (None, *(r.value for r in Role if r is not Role.ADMIN)):
        role = None
    assigned = request.args.get("assigned") or ""
    sort = "created" if request.args.get("sort") == "created" else "due"
    query = TaskQuery(statuses=(TaskStatus.OPEN,), queues=principal.queues(), workable_by=principal.username,
                      process_key=process, role=role, sort=sort,
                      assignee=principal.username if assigned == "me" else None, unassigned=assigned == "none")
    page = PageRequest(_page_number(), PER_PAGE)
    work = web().engine.my_work(query, page, username=principal.username, queues=principal.queues(),
                                practices=principal.visible_practices())
    counts = {f"{role_}:{practice}": workable for (role_, practice), (workable, _held) in work.counts.items()}
    held = sum(held for _workable, held in work.counts.values())
    return render_template("inbox.html", tasks=work.listing.items, counts=counts, held=held,
                           pager=Pager(page.page, PER_PAGE, work.listing.total), processes=work.models,
                           filters={"process": process or "", "role": role or "", "assigned": assigned, "sort": sort})


def _back(default: str) -> str:
    target = request.form.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else default


def claim(task_id: str) -> Any:
    """Take a task (a plain form post from the list or the task page)."""
    task = web().engine.run(ClaimTask(task_id), actor=me().username, authorize=authorizer(me(), Action.CLAIM))
    flash(f"You hold '{task.title}' of {task.business_key}.", "info")
    return redirect(_back(url_for("web.task", task_id=task_id)))


def unclaim(task_id: str) -> Any:
    """Give a task back to its queue."""
    task = web().engine.run(UnclaimTask(task_id), actor=me().username, authorize=authorizer(me(), Action.UNCLAIM))
    flash(f"'{task.title}' of {task.business_key} is back in its queue.", "info")
    return redirect(_back(url_for("web.task", task_id=task_id)))


# -- a task -----------------------------------------------------------------------------------------------


def _facts(task: TaskView, requester: str, exclusions: dict[str, dict[str, str]]) -> TaskFacts:
    return TaskFacts(task, requester, exclusions.get(task.id, {}).get(me().username))


def _refusal(principal: Principal, action: Action, facts: TaskFacts) -> str | None:
    """Why the policy refuses ``action`` on the task to this person, or None when it allows it."""
    try:
        check(principal, action, facts)
    except DutiesSeparated as error:
        return f"Separation of duties: {error.detail}"
    except Denied as error:
        return error.detail
    return None


def task(task_id: str, *, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
         problem: str | None = None, status: int = 200) -> Any:
    """A task: its form (when I may complete it), the record's summary, the diagram and the history."""
    cf = web()
    detail = cf.engine.task_detail(task_id)
    check(me(), Action.VIEW_TASK, detail.task)
    view = cf.engine.record(detail.task.instance_id)
    instance = view.instance
    facts = _facts(detail.task, detail.requester, view.exclusions)
    open_ = detail.task.state is TaskStatus.OPEN
    refusal = _refusal(me(), Action.COMPLETE, facts) if open_ else None
    if open_ and refusal is None and detail.task.assignee not in (None, me().username):
        refusal = f"{detail.task.assignee} holds this task; only they may complete it."
    fields = None
    if detail.definition is not None and open_ and refusal is None:
        fields = html_fields(detail.definition, values if values is not None else detail.data, errors,
                             posted=values is not None,
                             choice_lists=schema_choice_lists(detail.definition, (detail.form or {}).get("schema", {})))
    return render_template(
        "task.html", task=detail.task, detail=detail, instance=instance, fields=fields, refusal=refusal,
        problem=problem, may_claim=open_ and detail.task.assignee is None and may(me(), Action.CLAIM, facts),
        may_unclaim=open_ and detail.task.assignee is not None and may(me(), Action.UNCLAIM, facts),
        trail=_trail(view), record_url=record_url(instance.business_key, instance.practice),
        summary=_summary(instance), conflicts=live_conflicts(cf.database, instance.business_key),
    ), status


def complete(task_id: str) -> Any:
    """Complete a task with its posted form; field errors come back inline with the input kept."""
    cf = web()
    detail = cf.engine.task_detail(task_id)
    check(me(), Action.VIEW_TASK, detail.task)
    data = submitted_data(detail.definition, request.form) if detail.definition is not None else {}
    values = posted_values(detail.definition, request.form) if detail.definition is not None else {}
    try:
        result = cf.engine.run(CompleteTask(task_id, data=data), actor=me().username,
                               authorize=authorizer(me(), Action.COMPLETE))
    except FormInvalid as error:
        return task(task_id, values=values, errors=error.errors, status=422,
                    problem="Some fields need your attention.")
    except DutiesSeparated as error:
        return task(task_id, values=values, problem=f"Separation of duties: {error.detail}", status=403)
    flash(f"Completed '{detail.task.title}' of {result.instance.business_key}.", "info")
    return redirect(record_url(result.instance.business_key, detail.task.practice))


# -- start ------------------------------------------------------------------------------------------------


def _startable() -> list[Any]:
    cf = web()
    models = cf.engine.list_models(me().visible_practices(), PageRequest(1, 200)).items
    result = []
    for model in models:
        if model.latest_version is None:
            continue
        start = cf.engine.start_form(model.key)
        if may(me(), Action.START, ProcessFacts(model.key, model.practice, start.start_role)):
            result.append((model, start))
    return result


def start_catalog() -> Any:
    """The processes I may start, each with its start form."""
    return render_template("start.html", catalog=_startable())


def start_form(key: str, *, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
               problem: str | None = None, status: int = 200) -> Any:
    cf = web()
    model = cf.engine.model_view(key)
    start = cf.engine.start_form(key)
    check(me(), Action.START, ProcessFacts(model.key, model.practice, start.start_role))
    fields = html_fields(start.definition, values or {}, errors, posted=values is not None,
                         choice_lists=start.choices) if start.definition is not None else None
    return render_template("start_form.html", model=model, start=start, fields=fields, problem=problem), status


def start(key: str) -> Any:
    """Start a process with its posted start form; on success, land on the new record."""
    cf = web()
    start_ = cf.engine.start_form(key)
    definition = start_.definition
    data = submitted_data(definition, request.form) if definition is not None else {}
    try:
        instance = cf.engine.run(StartWithSchedule(process=key, data=data), actor=me().username,
                                 authorize=authorizer(me(), Action.START))
    except InvalidInput as error:
        values = posted_values(definition, request.form) if definition is not None else {}
        return start_form(key, values=values, errors=error.errors, status=422,
                          problem="Some fields need your attention.")
    flash(f"{instance.business_key} is started.", "info")
    for conflict in instance.data.get("schedule_conflicts") or ():
        flash(f"Schedule conflict: {conflict.get('message')}", "warning")
    return redirect(record_url(instance.business_key, instance.practice))


# -- the record -------------------------------------------------------------------------------------------


def _visible(business_key: str) -> InstanceView:
    cf = web()
    view = cf.engine.instance_view(cf.engine.instance_id_of(business_key.upper()))
    check(me(), Action.VIEW_INSTANCE, view)
    return view


def _summary(instance: InstanceView) -> dict[str, Any]:
    data = instance.data
    return {"title": data.get("title"), "risk": data.get("risk"), "service": data.get("affected_service"),
            "planned_start": data.get("planned_start") or data.get("planned_deployment"),
            "planned_end": data.get("planned_end")}


@dataclass(frozen=True)
class TrailEntry:
    at: datetime
    actor: str
    what: str
    detail: str | None
    kind: str
    data: dict[str, Any]


def _trail(view: RecordView) -> list[TrailEntry]:
    """The audit trail as sentences: task titles and actors, not a column of event types."""
    titles = {task.id: task.title for task in view.tasks}
    element_titles = {**view.element_names, **{task.element_id: task.title for task in view.tasks}}
    entries = []
    for event in view.events:
        data = event.data
        title = titles.get(event.task_id or "") or element_titles.get(data.get("element_id", "")) \
            or data.get("element_id") or ""
        what, detail = _describe(event.type, title, data)
        entries.append(TrailEntry(event.at, event.actor, what, detail, event.type.value, data))
    return entries


def _describe(kind: EventType, title: str, data: dict[str, Any]) -> tuple[str, str | None]:
    quoted = f"'{title}'" if title else "a task"
    if kind is EventType.STARTED:
        return f"started it (version {data.get('version')})", None
    if kind is EventType.COMPLETED:
        decision = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in (data.get("data") or {}).items()
                             if k.endswith(("decision", "outcome", "result", "code", "action")))
        return f"completed {quoted}", decision or None
    if kind is EventType.CLAIMED:
        return f"took {quoted}", None
    if kind is EventType.UNCLAIMED:
        return f"gave {quoted} back to its queue", None
    if kind is EventType.ASSIGNED:
        return f"assigned {quoted} to {data.get('assignee')}", None
    if kind is EventType.TIMER_FIRED:
        return f"timer fired: {title or data.get('element_id')}", None
    if kind is EventType.MESSAGE_RECEIVED:
        return f"message received: {data.get('message')}", None
    if kind is EventType.ERROR:
        return "stopped with an error", data.get("message")
    if kind is EventType.NOTE:
        return "added a work note", data.get("text")
    if kind is EventType.RELEASE_OUTCOME:
        return f"release {data.get('release')} ended: {data.get('outcome')}", None
    if kind is EventType.CHANGE_UNLINKED:
        return f"{data.get('change')} left the release ({data.get('reason')})", data.get("text")
    if kind is EventType.INSTANCE_COMPLETED:
        return "the process completed", None
    if kind in (EventType.SUSPENDED, EventType.CANCELLED):
        return f"{kind.value} it", data.get("reason")
    if kind is EventType.VERSION_CHANGED:
        mapping = ", ".join(f"{old} → {new}" for old, new in (data.get("mapping") or {}).items())
        return f"moved it from version {data.get('from_version')} to {data.get('to_version')}", mapping or None
    return f"{kind.value.replace('_', ' ')}", None


def _who_may_act(view: RecordView) -> list[dict[str, Any]]:
    """For each open task: its role, the people who may act on it now, and a flag when nobody may."""
    cf, instance, exclusions = web(), view.instance, view.exclusions
    pairs = sorted({(task.role, task.practice) for task in instance.tasks})
    with cf.database.snapshot() as db:
        holders = accounts.holders(db, pairs)
    rows = []
    for task in instance.tasks:
        barred = exclusions.get(task.id, {})
        people = [name for name in holders[(task.role, task.practice)] if name not in barred]
        if task.assignee is not None:
            people = [task.assignee] if task.assignee in people else []
        rows.append({"task": task, "people": people, "barred": barred,
                     "facts": TaskFacts(task, instance.started_by, barred.get(me().username))})
    return rows


def _linked(instance: InstanceView, trail: list[TrailEntry]) -> list[str]:
    """A release's changes (its data's ``change_keys``); a change's releases (their outcomes in its trail)."""
    keys = [key for key in instance.data.get("change_keys") or [] if isinstance(key, str)]
    keys += [str(entry.data["release"]) for entry in trail
             if entry.kind == EventType.RELEASE_OUTCOME.value and entry.data.get("release")]
    return list(dict.fromkeys(keys))


def _visible_record(business_key: str) -> RecordView:
    view = web().engine.record(business_key=business_key.upper())
    check(me(), Action.VIEW_INSTANCE, view.instance)
    return view


def record(folder: str, business_key: str) -> Any:
    """A change or release: data, status, diagram, who may act on each open task, actions, notes, trail."""
    view = _visible_record(business_key)
    if RECORD_PATHS.get(view.instance.practice) != folder:
        return redirect(record_url(view.instance.business_key, view.instance.practice))
    return _record(view)


def other_record(business_key: str) -> Any:
    view = _visible_record(business_key)
    if view.instance.practice in RECORD_PATHS:
        return redirect(record_url(view.instance.business_key, view.instance.practice))
    return _record(view)


def _record(view: RecordView) -> Any:
    instance = view.instance
    trail = _trail(view)
    labels = {field.name: field.label for field in view.start_form.fields} if view.start_form else {}
    linked = [(key, _link_for(key)) for key in _linked(instance, trail)]
    return render_template(
        "record.html", instance=instance, summary=_summary(instance), trail=trail, labels=labels,
        who=_who_may_act(view), may_manage=may(me(), Action.MANAGE_INSTANCE, instance), linked=linked,
        record_url=record_url(instance.business_key, instance.practice),
    )


def _link_for(business_key: str) -> str:
    prefix = business_key.split("-", 1)[0]
    folder = {"CHG": "changes", "REL": "releases"}.get(prefix)
    return url_for("web.record", folder=folder, business_key=business_key) if folder \
        else url_for("web.other_record", business_key=business_key)


def diagram(business_key: str) -> Response:
    """The record's BPMN and its marks, for the diagram viewer (JSON)."""
    instance = _visible(business_key)
    view = web().engine.diagram(instance.id)
    focus = request.args.get("task")
    return jsonify({"bpmn": view.bpmn, "completed": view.completed, "active": view.active,
                    "waiting": view.waiting, "focus": focus})


def add_note(business_key: str) -> Any:
    """A work note on the record (anyone who may see it)."""
    instance = _visible(business_key)
    web().engine.run(AddWorkNote(instance.id, request.form.get("text", "")), actor=me().username,
                     authorize=authorizer(me(), Action.VIEW_INSTANCE))
    flash("Your note is in the trail.", "info")
    return redirect(record_url(instance.business_key, instance.practice) + "#trail")


LIFECYCLE = {"suspend": SuspendInstance, "resume": ResumeInstance, "cancel": CancelInstance,
             "retry": RetryInstance}


def lifecycle(business_key: str, action: str) -> Any:
    """Suspend, resume, cancel or retry (managers, owners, admins), once the confirmation box is ticked."""
    if action not in LIFECYCLE:
        abort(404)
    instance = _visible(business_key)
    check(me(), Action.MANAGE_INSTANCE, instance)
    if request.form.get("confirm") != "yes":
        flash(f"Tick the confirmation box to {action} {instance.business_key}.", "error")
        return redirect(record_url(instance.business_key, instance.practice))
    reason = (request.form.get("reason") or "").strip() or None
    command = LIFECYCLE[action]
    arguments: dict[str, Any] = {"reason": reason} if action in ("suspend", "cancel") else {}
    web().engine.run(command(instance.id, **arguments), actor=me().username,
                     authorize=authorizer(me(), Action.MANAGE_INSTANCE))
    flash(f"{instance.business_key}: {action} done.", "info")
    return redirect(record_url(instance.business_key, instance.practice))


# -- find -------------------------------------------------------------------------------------------------


def _day(text: str) -> datetime | None:
    try:
        return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time(), tzinfo=UTC)
    except ValueError:
        return None


def find() -> Any:
    """Changes and releases by business key, status, process, requester, service and start date."""
    args = request.args
    key = args.get("key", "").strip().upper()
    cf = web()
    if key:
        try:
            instance = _visible(key)
        except (NotFound, Hidden):  # unknown or hidden: the same answer, on the search page
            flash(f"There is no record {key} that you may see.", "error")
        else:
            return redirect(record_url(instance.business_key, instance.practice))
    status = args.get("status") or None
    requester = args.get("requester", "").strip() or None
    started_from, started_until = _day(args.get("from", "")), _day(args.get("until", ""))
    query = InstanceQuery(
        practices=me().visible_practices(), process_key=args.get("process") or None,
        statuses=(InstanceStatus(status),) if status in {s.value for s in InstanceStatus} else (),
        started_by=me().username if requester == "me" else requester,
        service=args.get("service", "").strip() or None, started_from=started_from,
        started_until=started_until.replace(hour=23, minute=59, second=59) if started_until else None,
    )
    page = PageRequest(_page_number(), PER_PAGE)
    listing = cf.engine.list_instances(query, page)
    processes = cf.engine.list_models(me().visible_practices(), PageRequest(1, 200)).items
    return render_template("find.html", results=listing.items, pager=Pager(page.page, PER_PAGE, listing.total),
                           processes=processes, statuses=[s.value for s in InstanceStatus], args=args,
                           record_url=record_url)


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/", "inbox", inbox)
    blp.add_url_rule("/tasks/<string:task_id>", "task", task)
    blp.add_url_rule("/tasks/<string:task_id>/claim", "claim", claim, methods=["POST"])
    blp.add_url_rule("/tasks/<string:task_id>/unclaim", "unclaim", unclaim, methods=["POST"])
    blp.add_url_rule("/tasks/<string:task_id>/complete", "complete", complete, methods=["POST"])
    blp.add_url_rule("/start", "start_catalog", start_catalog)
    blp.add_url_rule("/start/<string:key>", "start_form", start_form)
    blp.add_url_rule("/start/<string:key>", "start", start, methods=["POST"])
    blp.add_url_rule("/<any(changes, releases):folder>/<record_key:business_key>", "record", record)
    blp.add_url_rule("/records/<record_key:business_key>", "other_record", other_record)
    blp.add_url_rule("/records/<record_key:business_key>/diagram.json", "diagram", diagram)
    blp.add_url_rule("/records/<record_key:business_key>/notes", "add_note", add_note, methods=["POST"])
    blp.add_url_rule("/records/<record_key:business_key>/<string:action>", "lifecycle", lifecycle,
                     methods=["POST"])
    blp.add_url_rule("/find", "find", find)
