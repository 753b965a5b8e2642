"""Notification pages: your notifications and preferences; webhooks, dead letters and the development mailbox
(admins). The same commands and policy as the API's notification routes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from engine import InvalidInput, PageRequest
from notifications import (
    EXTENSION,
    CreateWebhook,
    DeleteWebhook,
    Kind,
    MarkNoticeRead,
    Notifier,
    ReplayDelivery,
    SetPreferences,
    new_webhook_secret,
)
from roles.policy import Action, check
from web.auth import _safe_next
from web.context import me, web
from web.pages import PER_PAGE, Pager, _page_number

KINDS = [(kind.value, kind.label) for kind in Kind]


def notifier() -> Notifier:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def _admin() -> str:
    check(me(), Action.ADMINISTER)
    return me().username


def unread_notifications() -> int:
    """The signed-in person's unread count, for the navigation (0 when nobody is signed in)."""
    principal = getattr(g, "web_principal", None)
    return notifier().unread_count(principal.username) if principal is not None else 0


def notices() -> Any:
    """Your notifications, newest first; ``?unread=1`` shows only the unread ones."""
    unread_only = request.args.get("unread") == "1"
    page = PageRequest(_page_number(), PER_PAGE)
    rows, total = notifier().notices(me().username, page, unread_only=unread_only)
    return render_template("notifications.html", notices=rows, pager=Pager(page.page, PER_PAGE, total),
                           unread_only=unread_only, labels=dict(KINDS))


def read_notice(notice_id: int) -> Any:
    """Mark one notification read, then open what it is about."""
    web().engine.run(MarkNoticeRead(me().username, notice_id), actor=me().username)
    return redirect(_safe_next(request.form.get("next")))


def read_all() -> Any:
    marked = web().engine.run(MarkNoticeRead(me().username), actor=me().username)
    flash(f"Marked {marked} notification{'s' if marked != 1 else ''} read.", "success")
    return redirect(url_for("web.notices"))


def preferences() -> Any:
    return render_template("notification_preferences.html", preference=notifier().preferences(me().username),
                           kinds=KINDS)


def save_preferences() -> Any:
    chosen = tuple(kind for kind in request.form.getlist("kinds"))
    web().engine.run(SetPreferences(me().username, chosen, request.form.get("digest") == "yes"),
                     actor=me().username)
    flash("Your notification preferences are saved.", "success")
    return redirect(url_for("web.notification_preferences"))


# -- admins ----------------------------------------------------------------------------------------


def webhooks(errors: dict[str, str] | None = None, form: Any = None, status: int = 200) -> Any:
    _admin()
    return render_template("admin/webhooks.html", webhooks=notifier().webhooks(), kinds=KINDS,
                           errors=errors or {}, form=form or {}), status


def create_webhook() -> Any:
    admin = _admin()
    form = request.form
    secret = form.get("secret", "").strip() or new_webhook_secret()
    try:
        web().engine.run(CreateWebhook(form.get("url", "").strip(), tuple(form.getlist("kinds")),
                                       notifier().box.seal(secret), form.get("description") or None), actor=admin)
    except InvalidInput as error:
        return webhooks({field: " ".join(messages) for field, messages in error.errors.items()}, form, 422)
    flash(f"Subscribed {form.get('url')}. Its signing secret, shown only now: {secret}", "secret")
    return redirect(url_for("web.admin_webhooks"))


def delete_webhook(subscription_id: int) -> Any:
    web().engine.run(DeleteWebhook(subscription_id), actor=_admin())
    flash("The webhook subscription is deleted.", "success")
    return redirect(url_for("web.admin_webhooks"))


def dead_letters() -> Any:
    _admin()
    page = PageRequest(_page_number(), PER_PAGE)
    rows, total = notifier().dead_letters(page)
    return render_template("admin/dead_letters.html", deliveries=rows, pager=Pager(page.page, PER_PAGE, total))


def replay(delivery_id: int) -> Any:
    web().engine.run(ReplayDelivery(delivery_id), actor=_admin())
    flash(f"Delivery {delivery_id} will be sent again.", "success")
    return redirect(url_for("web.admin_dead_letters"))


def mailbox() -> Any:
    """The development mailbox: mails kept instead of sent, when no SMTP server is configured."""
    _admin()
    page = PageRequest(_page_number(), 10)
    mails, total = notifier().dev_mails(page)
    return render_template("admin/mail.html", mails=mails, pager=Pager(page.page, 10, total),
                           smtp=notifier().settings.smtp)


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/notifications", "notices", notices)
    blp.add_url_rule("/notifications/<int:notice_id>/read", "read_notice", read_notice, methods=["POST"])
    blp.add_url_rule("/notifications/read-all", "read_all_notices", read_all, methods=["POST"])
    blp.add_url_rule("/notifications/preferences", "notification_preferences", preferences)
    blp.add_url_rule("/notifications/preferences", "save_notification_preferences", save_preferences,
                     methods=["POST"])
    blp.add_url_rule("/admin/webhooks", "admin_webhooks", webhooks)
    blp.add_url_rule("/admin/webhooks", "admin_create_webhook", create_webhook, methods=["POST"])
    blp.add_url_rule("/admin/webhooks/<int:subscription_id>/delete", "admin_delete_webhook", delete_webhook,
                     methods=["POST"])
    blp.add_url_rule("/admin/dead-letters", "admin_dead_letters", dead_letters)
    blp.add_url_rule("/admin/dead-letters/<int:delivery_id>/replay", "admin_replay", replay, methods=["POST"])
    blp.add_url_rule("/admin/mail", "admin_mail", mailbox)
    blp.add_app_template_global(unread_notifications, "unread_notifications")
