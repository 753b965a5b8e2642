"""The change calendar (month, week, and a timeline per service), the service catalog with its blackouts and
lead times, and calendar feeds: the same schedule reads and commands as the API, under the same rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine import InvalidInput, NotFound
from roles.errors import Denied
from schedule import views
from schedule.access import check_manage_schedule, check_read_schedule
from schedule.commands import (
    CreateBlackout,
    CreateService,
    DeleteBlackout,
    DeleteService,
    IssueCalendarToken,
    SetSchedulePolicy,
)
from schedule.models import Criticality
from schedule.views import EntryView
from web.context import me, web

VIEWS = ("month", "week", "timeline")


@dataclass(frozen=True)
class Day:
    day: date
    entries: list[EntryView]
    in_period: bool


def _anchor() -> date:
    try:
        return date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        return web().now().date()


def _period(view: str, anchor: date) -> tuple[date, date]:
    if view == "month":
        first = anchor.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first - timedelta(days=first.weekday()), following + timedelta(days=(7 - following.weekday()) % 7)
    if view == "week":
        monday = anchor - timedelta(days=anchor.weekday())
        return monday, monday + timedelta(days=7)
    first = anchor.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1)


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


# A month's day shows this many entries, then "+N more" linking to its week (which shows them all): a busy day
# would otherwise stretch the month to thousands of pixels.
MONTH_DAY_LIMIT = 4


def calendar() -> Any:
    """The forward schedule: a month or a week of days, or a month as one row per service; conflicts marked."""
    check_read_schedule(me())
    view = request.args.get("view", "month")
    view = view if view in VIEWS else "month"
    anchor = _anchor()
    service = request.args.get("service") or None
    starts, ends = _period(view, anchor)
    entries = views.schedule_between(web().database, _moment(starts), _moment(ends), service=service,
                                     with_conflicts=True)
    days = []
    day = starts
    while day < ends:
        on_day = [e for e in entries if e.starts_at < _moment(day + timedelta(days=1)) and e.ends_at > _moment(day)]
        days.append(Day(day, on_day, view != "month" or day.month == anchor.month))
        day += timedelta(days=1)
    lanes: dict[str, list[EntryView]] = {}
    for entry in entries:
        lanes.setdefault(entry.service or "(releases)", []).append(entry)
    step = {"month": 31, "week": 7, "timeline": 31}[view]
    return render_template(
        "schedule.html", view=view, anchor=anchor, service=service, days=days, lanes=sorted(lanes.items()),
        entries=entries, services=[s.name for s in views.services(web().database)],
        previous=(anchor - timedelta(days=step)).isoformat(), following=(anchor + timedelta(days=step)).isoformat(),
        conflicted=sum(1 for e in entries if e.conflicts), day_limit=MONTH_DAY_LIMIT if view == "month" else None)


def services_page() -> Any:
    """The services with their maintenance windows, the blackouts, and the lead time of each change model."""
    check_read_schedule(me())
    cf = web()
    may_manage = True
    try:
        check_manage_schedule(me())
    except Denied:  # the page is read-only for them
        may_manage = False
    return render_template("services.html", services=views.services(cf.database),
                           blackouts=views.blackouts(cf.database), policies=views.policies(cf.database),
                           criticalities=[c.value for c in Criticality], may_manage=may_manage,
                           feeds=views.calendar_tokens_of(cf.database, me().username))


def _run(command: Any) -> Any:
    principal = me()
    return web().engine.run(command, actor=principal.username,
                            authorize=lambda facts: check_manage_schedule(principal, facts))


def _when(name: str) -> datetime:
    value = request.form.get(name, "")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("Invalid date-time.", errors={name: ["Give a date and time (UTC)."]}) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _back(errors: InvalidInput | None = None) -> Any:
    if errors is not None:
        details = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.errors.items())
        flash(f"{errors.detail} {details}".strip(), "error")
    return redirect(url_for("web.services"))


def add_service() -> Any:
    form = request.form
    days = form.getlist("days")
    windows = [{"days": days, "start": form.get("window_start", ""), "end": form.get("window_end", "")}] \
        if days else []
    try:
        _run(CreateService(form.get("name", ""), form.get("practice") or "change",
                           form.get("criticality") or "medium", windows))
    except InvalidInput as error:
        return _back(error)
    flash(f"The service {form.get('name', '').strip()} is in the catalog.", "info")
    return _back()


def remove_service(name: str) -> Any:
    _run(DeleteService(name))
    flash(f"The service {name} left the catalog.", "info")
    return _back()


def add_blackout() -> Any:
    try:
        _run(CreateBlackout(_when("starts_at"), _when("ends_at"), request.form.get("reason", ""),
                            request.form.get("service") or None))
    except InvalidInput as error:
        return _back(error)
    flash("The blackout is declared.", "info")
    return _back()


def remove_blackout(blackout_id: int) -> Any:
    _run(DeleteBlackout(blackout_id))
    flash("The blackout is lifted.", "info")
    return _back()


def set_policy() -> Any:
    try:
        hours = int(request.form.get("lead_time_hours", ""))
    except ValueError:
        return _back(InvalidInput("Invalid lead time.", errors={"lead_time_hours": ["Give whole hours."]}))
    try:
        _run(SetSchedulePolicy(request.form.get("process_key", ""), hours, request.form.get("exempt") == "on"))
    except (InvalidInput, NotFound) as error:
        return _back(error if isinstance(error, InvalidInput) else InvalidInput(error.detail))
    flash("The lead time is set.", "info")
    return _back()


def add_feed() -> Any:
    check_read_schedule(me())
    try:
        _row, token = web().engine.run(IssueCalendarToken(request.form.get("service") or None),
                                       actor=me().username, authorize=lambda _facts: None)
    except InvalidInput as error:
        return _back(error)
    address = url_for("calendar_feeds.CalendarFeed", token=token, _external=True)
    flash(f"Subscribe to this address (shown once): {address}", "secret")
    return _back()


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/schedule", "calendar", calendar)
    blp.add_url_rule("/services", "services", services_page)
    blp.add_url_rule("/services", "add_service", add_service, methods=["POST"])
    blp.add_url_rule("/services/<string:name>/delete", "remove_service", remove_service, methods=["POST"])
    blp.add_url_rule("/blackouts", "add_blackout", add_blackout, methods=["POST"])
    blp.add_url_rule("/blackouts/<int:blackout_id>/delete", "remove_blackout", remove_blackout, methods=["POST"])
    blp.add_url_rule("/schedule-policies", "set_policy", set_policy, methods=["POST"])
    blp.add_url_rule("/calendar-feeds", "add_feed", add_feed, methods=["POST"])
