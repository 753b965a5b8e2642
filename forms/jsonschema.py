"""Exporting a form as a JSON Schema (draft 2020-12) for clients that render or check forms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from forms.definition import FieldDefinition, FieldType, FormDefinition

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

_JSON_TYPES: dict[FieldType, str] = {
    FieldType.STRING: "string",
    FieldType.TEXT: "string",
    FieldType.INTEGER: "integer",
    FieldType.NUMBER: "number",
    FieldType.BOOLEAN: "boolean",
    FieldType.ENUM: "string",
    FieldType.DATE: "string",
    FieldType.DATE_TIME: "string",
}


def to_json_schema(form: FormDefinition, values: Mapping[str, object] | None = None,
                   choice_lists: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """Return ``form`` as a JSON Schema (draft 2020-12) object.

    ``values`` (for example the current process data) become the ``default`` of the fields they name,
    unless they are None; the other fields keep their declared default. Custom keywords: ``x-order`` (the
    field names in order), ``x-multiline`` (text fields), ``x-after`` (the field a date must follow) and
    ``x-choices-from`` (the server list a field picks from; its current entries, from ``choice_lists``, are the
    field's ``enum``).
    """
    values = values or {}
    labels = {field.name: field.label for field in form.fields}
    properties: dict[str, Any] = {}
    for field in form.fields:
        prop = _property(field, labels)
        if field.choices_from is not None:
            prop["x-choices-from"] = field.choices_from
            if choice_lists is not None and field.choices_from in choice_lists:
                prop["enum"] = list(choice_lists[field.choices_from])
        current = values.get(field.name)
        if current is not None:
            prop["default"] = _jsonable(current)
        elif field.default is not None:
            prop["default"] = _jsonable(field.default)
        properties[field.name] = prop

    schema: dict[str, Any] = {"$schema": DRAFT_2020_12, "type": "object", "title": form.title}
    if form.description is not None:
        schema["description"] = form.description
    schema["properties"] = properties
    schema["required"] = [field.name for field in form.fields if field.required]
    schema["additionalProperties"] = False
    conditions = [_required_if(field) for field in form.fields if field.required_if is not None]
    if conditions:
        schema["allOf"] = conditions
    schema["x-order"] = list(form.field_names)
    return schema


def _property(field: FieldDefinition, labels: Mapping[str, str]) -> dict[str, Any]:
    prop: dict[str, Any] = {"title": field.label}
    description = field.description
    if field.after is not None:
        sentence = f"Must be after {labels[field.after]}."
        description = f"{description} {sentence}" if description else sentence
    if description:
        prop["description"] = description
    if field.type is FieldType.LIST:
        assert field.items is not None  # guaranteed by FormDefinition.from_dict
        prop["type"] = "array"
        prop["items"] = _value_schema(field, field.items, required=False)
        if field.min_items is not None:
            prop["minItems"] = field.min_items
        if field.max_items is not None:
            prop["maxItems"] = field.max_items
    else:
        prop.update(_value_schema(field, field.type, required=field.required))
    if field.after is not None:
        prop["x-after"] = field.after
    return prop


def _value_schema(field: FieldDefinition, value_type: FieldType, required: bool) -> dict[str, Any]:
    """The schema of one value of ``value_type`` with the field's value constraints."""
    schema: dict[str, Any] = {"type": _JSON_TYPES[value_type]}
    if value_type in (FieldType.STRING, FieldType.TEXT):
        min_length = field.min_length
        if required:
            min_length = max(min_length or 0, 1)
        if min_length is not None:
            schema["minLength"] = min_length
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
        if field.pattern is not None:
            # JSON Schema patterns match anywhere in the string; the form's pattern must match all of it.
            schema["pattern"] = f"^(?:{field.pattern})$"
        if value_type is FieldType.TEXT:
            schema["x-multiline"] = True
    elif value_type in (FieldType.INTEGER, FieldType.NUMBER):
        if field.min is not None:
            schema["minimum"] = field.min
        if field.max is not None:
            schema["maximum"] = field.max
    elif value_type is FieldType.ENUM:
        schema["enum"] = list(field.choices or ())
    elif value_type is FieldType.DATE:
        schema["format"] = "date"
    elif value_type is FieldType.DATE_TIME:
        schema["format"] = "date-time"
    return schema


def _required_if(field: FieldDefinition) -> dict[str, Any]:
    assert field.required_if is not None
    other = field.required_if.field
    then: dict[str, Any] = {"required": [field.name]}
    if field.type in (FieldType.STRING, FieldType.TEXT):
        # Required also means not blank; minLength 1 is as close as JSON Schema gets.
        then["properties"] = {field.name: {"minLength": 1}}
    return {
        "if": {"properties": {other: {"enum": list(field.required_if.values)}}, "required": [other]},
        "then": then,
    }


def _jsonable(value: object) -> object:
    """``value`` as JSON: process data may hold dates, date-times and tuples."""
    if isinstance(value, datetime):
        # The engine keeps date-times in UTC; a naive one is read as UTC.
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return value
