"""Your notifications and preferences; webhook subscriptions and dead letters (admins)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from api.auth import protect
from api.extension import changeflow, principal
from api.notification_schemas import (
    DeliverySchema,
    MarkedSchema,
    NoticeQuerySchema,
    NoticeSchema,
    PreferenceSchema,
    UnreadSchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookSchema,
)
from api.responses import PAGINATION_HEADERS, page_request, paged, problems
from api.schemas import PageArgs
from engine import Listing
from notifications import (
    EXTENSION,
    CreateWebhook,
    DeleteWebhook,
    MarkNoticeRead,
    Notifier,
    ReplayDelivery,
    SetPreferences,
    new_webhook_secret,
)
from notifications.commands import plain
from roles.policy import Action, check

blp = protect(Blueprint("notifications", __name__, url_prefix="/api",
                        description="Your notifications and what you hear about; webhooks and dead letters "
                                    "(admins)."))


def notifier() -> Notifier:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def _as(command: Any) -> Any:
    return changeflow().engine.run(command, actor=principal().username)


def _admin() -> None:
    check(principal(), Action.ADMINISTER)


@blp.route("/notifications")
class Notices(MethodView):
    @blp.arguments(NoticeQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, NoticeSchema(many=True), headers=PAGINATION_HEADERS)
    @problems(blp, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Your notifications, newest first (``unread=true``: only those not read yet)."""
        page = page_request(args)
        notices, total = notifier().notices(principal().username, page, unread_only=args["unread"])
        return paged(Listing([plain(notice) for notice in notices], total), page)


@blp.route("/notifications/unread-count")
class UnreadCount(MethodView):
    @blp.response(200, UnreadSchema)
    @problems(blp)
    def get(self) -> Any:
        """How many of your notifications are unread."""
        return {"unread": notifier().unread_count(principal().username)}


@blp.route("/notifications/<id:notice_id>/read")
class ReadNotice(MethodView):
    @blp.response(200, MarkedSchema)
    @problems(blp, 404)
    def post(self, notice_id: int) -> Any:
        """Mark one of your notifications read (someone else's is 404)."""
        return {"marked": _as(MarkNoticeRead(principal().username, notice_id))}


@blp.route("/notifications/read-all")
class ReadAllNotices(MethodView):
    @blp.response(200, MarkedSchema)
    @problems(blp)
    def post(self) -> Any:
        """Mark all your notifications read."""
        return {"marked": _as(MarkNoticeRead(principal().username))}


@blp.route("/notification-preferences")
class Preferences(MethodView):
    @blp.response(200, PreferenceSchema)
    @problems(blp)
    def get(self) -> Any:
        """What you hear about, and whether mail comes as a daily digest."""
        return plain(notifier().preferences(principal().username))

    @blp.arguments(PreferenceSchema)
    @blp.response(200, PreferenceSchema)
    @problems(blp, 422)
    def put(self, body: dict[str, Any]) -> Any:
        """Choose the kinds you hear about (the others are muted) and whether mail comes as a daily digest."""
        return plain(_as(SetPreferences(principal().username, tuple(body["kinds"]), body["digest"])))


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.response(200, WebhookSchema(many=True))
    @problems(blp, 403)
    def get(self) -> Any:
        """Webhook subscriptions, without their secrets (admins)."""
        _admin()
        return [plain(view) for view in notifier().webhooks()]

    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookCreatedSchema)
    @problems(blp, 403, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Subscribe a URL to kinds of event (admins). Each delivery is a signed POST (docs/notifications.md);
        the secret appears in this response only."""
        _admin()
        secret = body["secret"] or new_webhook_secret()
        view = _as(CreateWebhook(body["url"], tuple(body["kinds"]), notifier().box.seal(secret),
                                 body["description"]))
        return {**plain(view), "secret": secret}


@blp.route("/webhooks/<id:subscription_id>")
class Webhook(MethodView):
    @blp.response(204)
    @problems(blp, 403, 404)
    def delete(self, subscription_id: int) -> None:
        """Delete a subscription (admins)."""
        _admin()
        _as(DeleteWebhook(subscription_id))


@blp.route("/dead-letters")
class DeadLetters(MethodView):
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, DeliverySchema(many=True), headers=PAGINATION_HEADERS)
    @problems(blp, 403, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Deliveries that failed every attempt, newest first (admins)."""
        _admin()
        page = page_request(args)
        rows, total = notifier().dead_letters(page)
        return paged(Listing([plain(row) for row in rows], total), page)


@blp.route("/dead-letters/<id:delivery_id>/replay")
class ReplayDeadLetter(MethodView):
    @blp.response(200, DeliverySchema)
    @problems(blp, 403, 404, 409)
    def post(self, delivery_id: int) -> Any:
        """Send a dead letter again, with the same idempotency key (admins). 409 if it is not dead."""
        _admin()
        return plain(_as(ReplayDelivery(delivery_id)))
