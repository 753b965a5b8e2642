"""Form definitions as HTML fields, and posted HTML fields back as the data the server validates.

The same ``FormDefinition`` the engine validates with (``forms.validate_submission``) drives the page:
labels, help text, required markers, enums as selects, ``required_if`` fields. Posted values are only
converted to their JSON types here; every rule is checked by the shared validation, whose errors the page
shows beside each field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from forms import FieldDefinition, FieldType, FormDefinition


@dataclass(frozen=True)
class HtmlField:
    """One field as the template renders it."""

    field: FieldDefinition
    widget: str  # input, textarea, select, multiselect, lines
    input_type: str  # for <input>: text, number, date, datetime-local
    value: Any  # what the control shows (a list for multiselect)
    error: str | None
    listed: tuple[str, ...] | None = None  # the server list a ``choices_from`` field picks from

    @property
    def id(self) -> str:
        return f"field-{self.field.name}"

    @property
    def choices(self) -> list[tuple[str, str]]:
        if self.field.value_type is FieldType.BOOLEAN:
            return [("true", "Yes"), ("false", "No")]
        if self.listed is not None:
            return [(choice, choice) for choice in self.listed]
        return [(choice, choice.replace("_", " ").capitalize()) for choice in self.field.choices or ()]

    @property
    def step(self) -> str | None:
        return {"integer": "1", "number": "any"}.get(self.field.type.value)


def html_fields(form: FormDefinition, values: dict[str, Any], errors: dict[str, list[str]] | None = None,
                *, posted: bool = False, choice_lists: Mapping[str, Sequence[str]] | None = None) -> list[HtmlField]:
    """The form's fields with their current values: posted text as typed, or stored data formatted.
    ``choice_lists`` are the server lists ``choices_from`` fields pick from (they render as selects)."""
    errors = errors or {}
    result = []
    for field in form.fields:
        widget, input_type = _widget(field)
        listed = None
        if field.choices_from is not None and choice_lists is not None and field.choices_from in choice_lists:
            widget, listed = "select", tuple(choice_lists[field.choices_from])
        raw = values.get(field.name, None if posted else field.default)
        value = raw if posted else _display(field, raw)
        message = "; ".join(errors.get(field.name, [])) or None
        result.append(HtmlField(field, widget, input_type, value, message, listed))
    return result


def schema_choice_lists(form: FormDefinition, schema: Mapping[str, Any]) -> dict[str, list[str]]:
    """The server lists a form's JSON Schema carries (the ``enum`` of its ``choices_from`` fields)."""
    properties = schema.get("properties", {})
    return {field.choices_from: list(properties.get(field.name, {}).get("enum", []))
            for field in form.fields if field.choices_from is not None}


def _widget(field: FieldDefinition) -> tuple[str, str]:
    kind = field.type
    if kind is FieldType.TEXT:
        return "textarea", ""
    if kind in (FieldType.ENUM, FieldType.BOOLEAN):
        return "select", ""
    if kind is FieldType.LIST:
        return ("multiselect", "") if field.items in (FieldType.ENUM, FieldType.BOOLEAN) else ("lines", "")
    return "input", {FieldType.INTEGER: "number", FieldType.NUMBER: "number", FieldType.DATE: "date",
                     FieldType.DATE_TIME: "datetime-local"}.get(kind, "text")


def _display(field: FieldDefinition, value: Any) -> Any:
    """Stored data as the control wants it (datetime-local takes UTC without a zone; lists one per line)."""
    if value is None:
        return [] if field.type is FieldType.LIST and field.items is FieldType.ENUM else ""
    if field.type is FieldType.DATE_TIME:
        return _local_utc(str(value))
    if field.type is FieldType.BOOLEAN:
        return "true" if value else "false"
    if field.type is FieldType.LIST:
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if field.items is FieldType.ENUM:
            return [str(item) for item in items]
        return "\n".join(_local_utc(str(i)) if field.items is FieldType.DATE_TIME else str(i) for i in items)
    return value


def _local_utc(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M")


def posted_values(form: FormDefinition, posted: MultiDict[str, str]) -> dict[str, Any]:
    """The posted fields as typed (to show them again after an error)."""
    values: dict[str, Any] = {}
    for field in form.fields:
        if field.type is FieldType.LIST and field.items is FieldType.ENUM:
            values[field.name] = posted.getlist(field.name)
        else:
            values[field.name] = posted.get(field.name, "")
    return values


def submitted_data(form: FormDefinition, posted: MultiDict[str, str]) -> dict[str, Any]:
    """The posted fields as JSON values for validation: empty means absent, and text that does not convert
    is passed on as it is so that the validation reports it against its field."""
    data: dict[str, Any] = {}
    for field in form.fields:
        if field.type is FieldType.LIST:
            if field.items is FieldType.ENUM:
                items = [item for item in posted.getlist(field.name) if item != ""]
            else:
                items = [line.strip() for line in posted.get(field.name, "").splitlines() if line.strip()]
            if items:
                data[field.name] = [_convert(field.items or FieldType.STRING, item) for item in items]
            continue
        text = posted.get(field.name, "")
        if field.type is not FieldType.TEXT:
            text = text.strip()
        if text == "":
            continue
        data[field.name] = _convert(field.type, text)
    return data


def _convert(kind: FieldType, text: str) -> Any:
    try:
        if kind is FieldType.INTEGER:
            return int(text)
        if kind is FieldType.NUMBER:
            return float(text)
    except ValueError:
        return text
    if kind is FieldType.BOOLEAN:
        return {"true": True, "false": False}.get(text, text)
    if kind is FieldType.DATE_TIME and len(text) in (16, 19) and "T" in text:
        return text + ("Z" if len(text) == 19 else ":00Z")  # datetime-local has no zone: the page says UTC
    return text
