"""Bodies of the notification routes: notices, preferences, webhook subscriptions, dead letters."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageArgs
from notifications import ALL_KINDS, Kind

KINDS = [kind.value for kind in Kind]


class NoticeQuerySchema(PageArgs):
    unread = fields.Boolean(load_default=False, metadata={"description": "Only notifications not read yet."})


class NoticeSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": KINDS})
    subject = fields.String()
    body = fields.String()
    link = fields.String(metadata={"description": "The page in the web app it is about (a path)."})
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class UnreadSchema(Schema):
    unread = fields.Integer(metadata={"description": "How many of your notifications are unread."})


class MarkedSchema(Schema):
    marked = fields.Integer(metadata={"description": "How many notifications this marked read."})


class PreferenceSchema(Schema):
    kinds = fields.List(fields.String(validate=validate.OneOf(KINDS)), required=True, metadata={
        "description": "The kinds you hear about, in the app and by mail; the others are muted."})
    digest = fields.Boolean(required=True, metadata={
        "description": "Mail one digest a day instead of one mail per notification."})


class WebhookCreateSchema(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                        metadata={"example": "https://hooks.example.com/changeflow"})
    kinds = fields.List(fields.String(validate=validate.OneOf([*KINDS, ALL_KINDS])), required=True,
                        validate=validate.Length(min=1, max=len(KINDS) + 1),
                        metadata={"description": "The kinds to receive, or ['*'] for all."})
    description = fields.String(load_default=None, validate=validate.Length(max=200))
    secret = fields.String(load_default=None, validate=validate.Length(min=16, max=200), metadata={
        "description": "The signing secret; omit it and one is generated (returned once, in this response)."})


class WebhookSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    kinds = fields.List(fields.String())
    description = fields.String(allow_none=True)
    active = fields.Boolean()
    created_by = fields.String()
    created_at = fields.DateTime()


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(metadata={"description": "The signing secret. It is shown only in this response."})


class DeliverySchema(Schema):
    id = fields.Integer()
    idempotency_key = fields.String()
    kind = fields.String()
    channel = fields.String(metadata={"enum": ["email", "webhook"]})
    recipient = fields.String(allow_none=True)
    address = fields.String()
    subject = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": ["pending", "sent", "dead"]})
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    next_attempt_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
