"""The change schedule: the service catalog, blackouts, lead-time policies, the forward schedule and its
conflicts, calendar feeds, and the changes a release carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from api.auth import protect
from api.extension import changeflow, principal
from api.responses import PAGINATION_HEADERS, page_request, paged, problems
from api.schemas import KEY, InstanceSchema, PageArgs
from engine import InvalidInput, Listing, NotFound
from roles.policy import Action, authorizer, check
from schedule import views
from schedule.access import check_manage_release, check_manage_schedule, check_read_schedule
from schedule.commands import (
    AmendReleaseLinks,
    CreateBlackout,
    CreateService,
    DeleteBlackout,
    DeleteService,
    IssueCalendarToken,
    RescheduleChange,
    RevokeCalendarToken,
    SetSchedulePolicy,
    UpdateService,
)
from schedule.ical import calendar_feed
from schedule.models import Criticality

blp = protect(Blueprint("schedule", __name__, url_prefix="/api",
                        description="The change schedule: services, blackouts, lead times, conflicts, feeds."))
feeds = Blueprint("calendar_feeds", __name__, url_prefix="/api",
                  description="iCalendar feeds, opened by the secret token in their address (no bearer token).")

LONGEST_QUERY = timedelta(days=93)  # a schedule query spans at most a quarter
FEED_PAST, FEED_AHEAD = timedelta(days=14), timedelta(days=180)  # what a calendar feed spans
CRITICALITIES = [c.value for c in Criticality]
NAME = validate.Length(min=1, max=100)


# -- bodies -----------------------------------------------------------------------------------------------


class MaintenanceWindowSchema(Schema):
    days = fields.List(fields.String(validate=validate.OneOf(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])),
                       required=True, validate=validate.Length(min=1, max=7))
    start = fields.String(required=True, metadata={"example": "02:00", "description": "HH:MM, UTC"})
    end = fields.String(required=True, metadata={"example": "06:00", "description": "HH:MM, UTC; at or before "
                                                                                     "the start: the next day"})


class ServiceSchema(Schema):
    name = fields.String(required=True, validate=NAME)
    practice = fields.String(load_default="change", validate=validate.Length(min=1, max=50))
    criticality = fields.String(load_default="medium", validate=validate.OneOf(CRITICALITIES))
    maintenance_windows = fields.List(fields.Nested(MaintenanceWindowSchema), load_default=list,
                                      validate=validate.Length(max=50))
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class ServiceUpdateSchema(Schema):
    practice = fields.String(validate=validate.Length(min=1, max=50))
    criticality = fields.String(validate=validate.OneOf(CRITICALITIES))
    maintenance_windows = fields.List(fields.Nested(MaintenanceWindowSchema), validate=validate.Length(max=50))


class BlackoutSchema(Schema):
    id = fields.Integer(dump_only=True)
    service = fields.String(load_default=None, allow_none=True, validate=NAME,
                            metadata={"description": "None: every service."})
    starts_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    ends_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    created_by = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class ScheduleArgs(PageArgs):
    start = fields.AwareDateTime(data_key="from", load_default=None, default_timezone=UTC,
                                 metadata={"description": "Default: now."})
    end = fields.AwareDateTime(data_key="to", load_default=None, default_timezone=UTC,
                               metadata={"description": "Default: 31 days after `from`."})
    service = fields.String(validate=NAME)
    mine = fields.Boolean(load_default=False, metadata={"description": "Only the changes I requested."})
    conflicts = fields.Boolean(load_default=True, metadata={"description": "List each change's conflicts."})


class BlackoutArgs(Schema):
    start = fields.AwareDateTime(data_key="from", load_default=None, default_timezone=UTC)
    end = fields.AwareDateTime(data_key="to", load_default=None, default_timezone=UTC)
    service = fields.String(validate=NAME)


class ConflictSchema(Schema):
    kind = fields.String(metadata={"description": "overlap, blackout or outside_maintenance"})
    message = fields.String()


class EntrySchema(Schema):
    business_key = fields.String()
    practice = fields.String()
    process = fields.String()
    title = fields.String()
    service = fields.String(allow_none=True)
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    state = fields.String(metadata={"description": "requested, authorized, implemented, delivered or withdrawn"})
    requested_by = fields.String()
    delivered_by = fields.String(allow_none=True, metadata={"description": "The release that delivered it."})
    outcome = fields.String(allow_none=True)
    conflicts = fields.List(fields.Dict(), metadata={"description": "{kind, message, ...} each."})


class ConflictCheckSchema(Schema):
    service = fields.String(load_default=None, allow_none=True, validate=NAME)
    planned_start = fields.AwareDateTime(required=True, default_timezone=UTC)
    planned_end = fields.AwareDateTime(required=True, default_timezone=UTC)
    process = fields.String(load_default=None, validate=KEY,
                            metadata={"description": "A change model: also check its lead time."})
    exclude = fields.String(load_default=None, validate=validate.Length(max=40),
                            metadata={"description": "The change's own key, when moving it."})


class ConflictAnswerSchema(Schema):
    conflicts = fields.List(fields.Dict())
    refused = fields.Dict(metadata={"description": "Field errors the start would answer with (lead time, past "
                                                   "start, end before start); empty when the window is allowed."})


class PolicySchema(Schema):
    process_key = fields.String(dump_only=True)
    lead_time_hours = fields.Integer(required=True, validate=validate.Range(min=0, max=2160))
    exempt = fields.Boolean(load_default=False, metadata={"description": "No lead time and no past-start rule "
                                                                           "(emergency changes)."})
    updated_by = fields.String(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class FeedRequestSchema(Schema):
    service = fields.String(load_default=None, allow_none=True, validate=NAME,
                            metadata={"description": "A service's schedule; none: the changes you requested."})


class FeedSchema(Schema):
    id = fields.Integer()
    service = fields.String(allow_none=True)
    created_at = fields.DateTime()
    url = fields.String(metadata={"description": "Shown once: the address holds the feed's secret."})


class RescheduleSchema(Schema):
    planned_start = fields.AwareDateTime(required=True, default_timezone=UTC)
    planned_end = fields.AwareDateTime(required=True, default_timezone=UTC)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class LinksSchema(Schema):
    change_keys = fields.List(fields.String(validate=validate.Length(min=1, max=40)), required=True,
                              validate=validate.Length(min=1, max=100))


# -- helpers ----------------------------------------------------------------------------------------------


def _span(args: dict[str, Any]) -> tuple[datetime, datetime]:
    start = args["start"] or changeflow().now()
    end = args["end"] or start + timedelta(days=31)
    if end <= start or end - start > LONGEST_QUERY:
        raise InvalidInput("Invalid period.", errors={"to": [
            f"'to' must come after 'from', at most {LONGEST_QUERY.days} days later."]})
    return start, end


def _owner() -> Any:
    me = principal()
    return lambda facts: check_manage_schedule(me, facts)


def _reader() -> str:
    check_read_schedule(principal())
    return principal().username


def _run(command: Any, authorize: Any = None) -> Any:
    cf = changeflow()
    return cf.engine.run(command, actor=principal().username, authorize=authorize or _owner())


# -- services ---------------------------------------------------------------------------------------------


@blp.route("/services")
class Services(MethodView):
    @blp.response(200, ServiceSchema(many=True))
    @problems(blp, 404)
    def get(self) -> Any:
        """The service catalog, by name (a change request picks its service from it)."""
        _reader()
        return views.services(changeflow().database)

    @blp.arguments(ServiceSchema, unknown=RAISE)
    @blp.response(201, ServiceSchema)
    @problems(blp, 403, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Add a service, with weekly maintenance windows in UTC (process owner of change, admin)."""
        return _run(CreateService(body["name"], body["practice"], body["criticality"], body["maintenance_windows"]))


@blp.route("/services/<string:name>")
class ServiceItem(MethodView):
    @blp.arguments(ServiceUpdateSchema, unknown=RAISE)
    @blp.response(200, ServiceSchema)
    @problems(blp, 403, 404, 422)
    def patch(self, body: dict[str, Any], name: str) -> Any:
        """Change a service's practice, criticality or maintenance windows (process owner of change, admin)."""
        return _run(UpdateService(name, body.get("practice"), body.get("criticality"),
                                  body.get("maintenance_windows")))

    @blp.response(204)
    @problems(blp, 403, 404, 409)
    def delete(self, name: str) -> Any:
        """Take a service out of the catalog (process owner of change, admin). 409 while active standard change
        templates name it: the answer names them."""
        _run(DeleteService(name))
        return ""


# -- blackouts --------------------------------------------------------------------------------------------


@blp.route("/blackouts")
class Blackouts(MethodView):
    @blp.arguments(BlackoutArgs, location="query", unknown=RAISE)
    @blp.response(200, BlackoutSchema(many=True))
    @problems(blp, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Blackout windows (freezes), optionally those overlapping `from`..`to` or touching one service."""
        _reader()
        return views.blackouts(changeflow().database, args["start"], args["end"], args.get("service"))

    @blp.arguments(BlackoutSchema, unknown=RAISE)
    @blp.response(201, BlackoutSchema)
    @problems(blp, 403, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Declare a blackout for one service or all, with its reason (process owner of change, admin)."""
        return _run(CreateBlackout(body["starts_at"], body["ends_at"], body["reason"], body["service"]))


@blp.route("/blackouts/<id:blackout_id>")
class BlackoutItem(MethodView):
    @blp.response(204)
    @problems(blp, 403, 404)
    def delete(self, blackout_id: int) -> Any:
        """Lift a blackout (process owner of change, admin)."""
        _run(DeleteBlackout(blackout_id))
        return ""


# -- lead times -------------------------------------------------------------------------------------------


@blp.route("/schedule-policies")
class Policies(MethodView):
    @blp.response(200, PolicySchema(many=True))
    @problems(blp, 404)
    def get(self) -> Any:
        """The lead time set for each change model (a model with none set needs no lead time)."""
        _reader()
        return views.policies(changeflow().database)


@blp.route("/schedule-policies/<string:process_key>")
class PolicyItem(MethodView):
    @blp.arguments(PolicySchema, unknown=RAISE)
    @blp.response(200, PolicySchema)
    @problems(blp, 403, 404, 422)
    def put(self, body: dict[str, Any], process_key: str) -> Any:
        """Set a change model's lead time in hours, or exempt it (process owner of its practice, admin)."""
        return _run(SetSchedulePolicy(process_key, body["lead_time_hours"], body["exempt"]))


# -- the forward schedule ---------------------------------------------------------------------------------


@blp.route("/schedule")
class Schedule(MethodView):
    @blp.arguments(ScheduleArgs, location="query", unknown=RAISE)
    @blp.response(200, EntrySchema(many=True), headers=PAGINATION_HEADERS)
    @problems(blp, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Changes and releases whose window overlaps `from`..`to` (at most 93 days), with their states and
        conflicts; `service` narrows it to one service, `mine` to the changes you requested. Everyone with a role
        in change or release reads the whole forward schedule: planning it is what it is for."""
        username = _reader()
        start, end = _span(args)
        page = page_request(args)
        entries, total = views.schedule_page(changeflow().database, start, end, service=args.get("service"),
                                             requested_by=username if args["mine"] else None,
                                             with_conflicts=args["conflicts"], offset=page.offset,
                                             limit=page.per_page)
        return paged(Listing(entries, total), page)


@blp.route("/schedule/conflicts")
class Conflicts(MethodView):
    @blp.arguments(ConflictCheckSchema, unknown=RAISE)
    @blp.response(200, ConflictAnswerSchema)
    @problems(blp, 404, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Check a window before raising a change: its conflicts (warnings) and, given `process`, the timing
        rules the start would refuse it for."""
        _reader()
        conflicts, refused = views.check_conflicts(
            changeflow().database, service=body["service"], starts_at=body["planned_start"],
            ends_at=body["planned_end"], process=body["process"], exclude=body["exclude"], now=changeflow().now())
        return {"conflicts": conflicts, "refused": refused}


# -- calendar feeds ---------------------------------------------------------------------------------------


def _feed_body(row: Any, token: str | None = None) -> dict[str, Any]:
    body = {"id": row.id, "service": row.service, "created_at": row.created_at}
    if token is not None:
        body["url"] = url_for("calendar_feeds.CalendarFeed", token=token, _external=True)
    return body


@blp.route("/calendar-feeds")
class CalendarFeeds(MethodView):
    @blp.response(200, FeedSchema(many=True))
    @problems(blp, 404)
    def get(self) -> Any:
        """Your calendar feeds (their addresses were shown once, when made)."""
        username = _reader()
        return [_feed_body(row) for row in views.calendar_tokens_of(changeflow().database, username)]

    @blp.arguments(FeedRequestSchema, unknown=RAISE)
    @blp.response(201, FeedSchema)
    @problems(blp, 404, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Make a secret iCalendar address: the changes you requested, or one service's schedule. Subscribe to it
        from Outlook or Google Calendar; only a hash of its secret is kept."""
        _reader()
        row, token = _run(IssueCalendarToken(body["service"]), authorize=lambda _facts: None)
        return _feed_body(row, token)


@blp.route("/calendar-feeds/<id:token_id>")
class CalendarFeedItem(MethodView):
    @blp.response(204)
    @problems(blp, 404)
    def delete(self, token_id: int) -> Any:
        """Stop one of your feed addresses from working."""
        _run(RevokeCalendarToken(token_id), authorize=lambda _facts: None)
        return ""


@feeds.route("/calendar/<string:token>.ics")
class CalendarFeed(MethodView):
    @feeds.response(200, {"type": "string", "format": "binary"}, content_type="text/calendar",
                    description="An iCalendar (RFC 5545) document.")
    @problems(feeds, 404)
    @feeds.doc(security=[])
    def get(self, token: str) -> Any:
        """The feed (iCalendar): from 14 days back to 180 days ahead. The address is the credential."""
        cf = changeflow()
        feed = views.feed_of_token(cf.database, token) if len(token) <= 100 else None
        if feed is None:
            raise NotFound("No calendar feed has this address; make a new one.")
        now = cf.now()
        entries = views.schedule_between(cf.database, now - FEED_PAST, now + FEED_AHEAD,
                                         service=feed.service,
                                         requested_by=None if feed.service else feed.username, with_conflicts=True)
        body = calendar_feed(feed.name, entries, now=now, host=request.host)
        return Response(body, mimetype="text/calendar")


# -- releases and their changes ---------------------------------------------------------------------------


@blp.route("/releases/<string:business_key>/changes")
class ReleaseChanges(MethodView):
    @blp.response(200, InstanceSchema(many=True))
    @problems(blp, 404)
    def get(self, business_key: str) -> Any:
        """The changes a release carries, readable by whoever may read the release (access by link)."""
        engine = changeflow().engine
        release = engine.instance_view(engine.instance_id_of(business_key.upper()))
        check(principal(), Action.VIEW_INSTANCE, release)
        if release.practice != "release":
            raise NotFound(f"{business_key} is not a release.")
        linked = []
        for key in views.linked_change_keys(changeflow().database, release.business_key):
            try:
                linked.append(engine.instance_view(engine.instance_id_of(key)))
            except NotFound:
                continue
        return linked

    @blp.arguments(LinksSchema, unknown=RAISE)
    @blp.response(200, LinksSchema)
    @problems(blp, 403, 404, 422)
    def put(self, body: dict[str, Any], business_key: str) -> Any:
        """Amend the changes a release carries while it is planned (before its deployment gate passes)."""
        me = principal()
        keys = _run(AmendReleaseLinks(business_key.upper(), body["change_keys"]),
                    authorize=lambda facts: check_manage_release(me, facts.practice))
        return {"change_keys": keys}


@blp.route("/changes/<string:business_key>/reschedule")
class Reschedule(MethodView):
    @blp.arguments(RescheduleSchema, unknown=RAISE)
    @blp.response(200, InstanceSchema)
    @problems(blp, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], business_key: str) -> Any:
        """Move an authorized change to a new window (manager or owner of change, admin). It goes back to
        authorization after a fresh conflict check and risk decision; its trail records both windows. The new
        window obeys the same lead time as a new request."""
        return _run(RescheduleChange(business_key.upper(), body["planned_start"], body["planned_end"],
                                     body["reason"]), authorize=authorizer(principal(), Action.MANAGE_INSTANCE))
