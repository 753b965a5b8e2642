"""Validating submitted data against a form, with one cached marshmallow schema per form."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, missing, validates_schema
from marshmallow import fields as ma_fields
from marshmallow.validate import Length, Range

from forms.definition import FieldDefinition, FieldType, FormDefinition
from forms.errors import FormValidationError

REQUIRED_MESSAGE = "Missing data for required field."
NOT_AN_OBJECT_MESSAGE = "Expected a JSON object."
NAIVE_DATE_TIME_MESSAGE = "Add a timezone offset, for example Z or +01:00."

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


class _FormField(ma_fields.Field[Any]):
    """Base of the form's fields: ``null`` on an optional field means "no value", like leaving it out."""

    default_error_messages: dict[str, str | list[Any] | dict[Any, Any]] = {"required": REQUIRED_MESSAGE}

    def deserialize(
        self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        # Replaces marshmallow's version, whose pre/post-load hooks these fields do not use: validation
        # runs on every submission and this is its innermost loop.
        if value is None or value is missing:
            if self.required:
                raise self.make_error("required")
            default = self.load_default
            return default() if callable(default) else default
        return self.convert(value)

    def convert(self, value: Any) -> Any:
        """Check and normalise one value that is not null, whatever ``required`` says."""
        output = self._deserialize(value, None, None)
        if self.validators:
            self._validate(output)
        return output

    def _validate(self, value: Any) -> None:
        # marshmallow builds a combinator object on every call; running the list directly is faster and
        # still reports every failing validator.
        messages: list[str] = []
        for validator in self.validators:
            try:
                validator(value)
            except ValidationError as error:
                messages.extend(_messages(error.messages))
        if messages:
            raise ValidationError(messages)


class _String(_FormField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        return value


class _Integer(_FormField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        return value


class _Number(_FormField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | float:
        if isinstance(value, float):
            # Python's json module reads NaN and Infinity, which are no JSON numbers.
            if math.isfinite(value):
                return value
        elif isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValidationError("Not a valid number.")


class _Boolean(_FormField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise ValidationError("Not a valid boolean.")


class _Enum(_FormField):
    def __init__(self, choices: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = frozenset(choices)
        self.message = f"Must be one of: {', '.join(choices)}."

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str) and value in self.choices:
            return value
        raise ValidationError(self.message)


class _Date(_FormField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str) and _DATE_RE.fullmatch(value):
            try:
                date.fromisoformat(value)
            except ValueError:
                pass
            else:
                return value
        raise ValidationError("Not a valid date. Use YYYY-MM-DD, for example 2026-11-27.")


class _DateTime(_FormField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        match = _DATE_TIME_RE.fullmatch(value) if isinstance(value, str) else None
        if match is not None:
            try:
                parsed = datetime.fromisoformat(value.upper())
                if match["offset"] is None:
                    raise ValidationError(NAIVE_DATE_TIME_MESSAGE)
                return parsed.astimezone(UTC).isoformat()
            except (ValueError, OverflowError):
                pass
        raise ValidationError("Not a valid date-time. Use ISO 8601, for example 2026-11-27T09:00:00Z.")


class _List(_FormField):
    def __init__(
        self, inner: _FormField, min_items: int | None, max_items: int | None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.inner = inner
        self.min_items = min_items
        self.max_items = max_items

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        messages: list[str] = []
        output: list[Any] = []
        for number, item in enumerate(value, start=1):
            try:
                output.append(self.inner.convert(item))
            except ValidationError as error:
                messages.extend(f"Item {number}: {message}" for message in _messages(error.messages))
        count = len(value)
        if self.min_items is not None and count < self.min_items:
            messages.append(f"Must have at least {_items(self.min_items)}.")
        if self.max_items is not None and count > self.max_items:
            messages.append(f"Must have at most {_items(self.max_items)}.")
        if messages:
            raise ValidationError(messages)
        return output


_SCALAR_FIELDS: dict[FieldType, type[_FormField]] = {
    FieldType.STRING: _String,
    FieldType.TEXT: _String,
    FieldType.INTEGER: _Integer,
    FieldType.NUMBER: _Number,
    FieldType.BOOLEAN: _Boolean,
    FieldType.DATE: _Date,
    FieldType.DATE_TIME: _DateTime,
}


def _items(count: int) -> str:
    return "1 item" if count == 1 else f"{count} items"


def _messages(messages: Any) -> list[str]:
    """Flatten marshmallow's messages (a string, a list, or a dict of either) into a list of strings."""
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, Mapping):
        return [text for value in messages.values() for text in _messages(value)]
    return [text for value in messages for text in _messages(value)]


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _pattern_validator(pattern: str) -> Callable[[str], None]:
    compiled = re.compile(pattern)
    message = f"Must match the pattern {pattern}."

    def check(value: str) -> None:
        if compiled.fullmatch(value) is None:
            raise ValidationError(message)

    return check


def _bounds_message(low: object, high: object, what: str) -> str:
    if low is not None and high is not None:
        return f"Must be between {{min}} and {{max}}{what}."
    if low is not None:
        return f"Must be at least {{min}}{what}."
    return f"Must be at most {{max}}{what}."


def _value_field(field: FieldDefinition, value_type: FieldType, required: bool) -> _FormField:
    """A marshmallow field for one value of ``value_type`` with the field's value constraints."""
    validators: list[Callable[[Any], Any]] = []
    if value_type in (FieldType.STRING, FieldType.TEXT):
        if required:
            validators.append(_not_blank)
        if field.min_length is not None or field.max_length is not None:
            message = _bounds_message(field.min_length, field.max_length, " characters long")
            validators.append(Length(min=field.min_length, max=field.max_length, error=message))
        if field.pattern is not None:
            validators.append(_pattern_validator(field.pattern))
    elif value_type in (FieldType.INTEGER, FieldType.NUMBER) and field.type is not FieldType.LIST:
        if field.min is not None or field.max is not None:
            message = _bounds_message(field.min, field.max, "")
            validators.append(Range(min=field.min, max=field.max, error=message))
    if value_type is FieldType.ENUM:
        return _Enum(field.choices or (), required=required, validate=validators)
    return _SCALAR_FIELDS[value_type](required=required, validate=validators)


def build_field(field: FieldDefinition) -> _FormField:
    """Build the marshmallow field for ``field``, without its ``default`` (see `_schema_field`)."""
    if field.type is FieldType.LIST:
        assert field.items is not None  # guaranteed by FormDefinition.from_dict
        inner = _value_field(field, field.items, required=False)
        return _List(inner, field.min_items, field.max_items, required=field.required)
    return _value_field(field, field.type, required=field.required)


def check_value(field: FieldDefinition, value: object) -> list[str]:
    """Return the messages for ``value`` as a value of ``field`` (empty when it is valid); null is invalid."""
    try:
        build_field(field).convert(value)
    except ValidationError as error:
        return _messages(error.messages)
    return []


def _normalised(field: FieldDefinition, value: object) -> Any:
    """``value`` (known to be valid) as validation returns it."""
    if isinstance(value, tuple):
        value = list(value)
    return build_field(field).convert(value)


def _schema_field(field: FieldDefinition) -> _FormField:
    schema_field = build_field(field)
    if not field.required:
        if field.default is None:
            schema_field.load_default = None
        else:
            default = _normalised(field, field.default)
            if isinstance(default, list):
                # A fresh list each time, so that no caller can change the default of the next one.
                schema_field.load_default = lambda default=default: list(default)
            else:
                schema_field.load_default = default
    return schema_field


def _shown(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _as_datetime(value: str) -> date:
    return datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)


class _FormSchema(Schema):
    """Base of the generated schemas: the rules that involve two fields."""

    class Meta:
        register = False
        unknown = RAISE

    #: (field, other field, message) for each ``after`` rule.
    _after_rules: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    #: (field, other field, normalised values, label of the other field) for each ``required_if`` rule.
    _required_if_rules: ClassVar[tuple[tuple[str, str, tuple[Any, ...], str], ...]] = ()

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _check_cross_field_rules(self, data: dict[str, Any], original_data: Any, **kwargs: Any) -> None:
        # ``data`` holds only the fields that validated, with defaults filled in.
        errors: dict[str, list[str]] = {}
        for name, other, message in self._after_rules:
            value = data.get(name)
            other_value = data.get(other)
            if value is not None and other_value is not None:
                if _as_datetime(value) <= _as_datetime(other_value):
                    errors.setdefault(name, []).append(message)
        for name, other, values, label in self._required_if_rules:
            other_value = data.get(other)
            if other_value is None or other_value not in values:
                continue
            raw = original_data.get(name)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                errors.setdefault(name, []).append(f"Required when {label} is {_shown(other_value)}.")
        if errors:
            raise ValidationError(errors)


def build_schema(form: FormDefinition) -> Schema:
    """Build the marshmallow schema of ``form`` (uncached; `validate_submission` caches it)."""
    attributes: dict[str, Any] = {field.name: _schema_field(field) for field in form.fields}
    after_rules = []
    required_if_rules = []
    for field in form.fields:
        if field.after is not None:
            other = form.field(field.after)
            after_rules.append((field.name, other.name, f"Must be after {other.label}."))
        if field.required_if is not None:
            other = form.field(field.required_if.field)
            values = tuple(_normalised(other, value) for value in field.required_if.values)
            required_if_rules.append((field.name, other.name, values, other.label))
    attributes["_after_rules"] = tuple(after_rules)
    attributes["_required_if_rules"] = tuple(required_if_rules)
    schema_class: type[Schema] = type(f"FormSchema[{form.key}]", (_FormSchema,), attributes)
    return schema_class()


_SCHEMAS: dict[FormDefinition, Schema] = {}


def uses_choice_lists(form: FormDefinition) -> bool:
    """Whether some field of ``form`` takes its choices from a server list (``choices_from``)."""
    return any(field.choices_from is not None for field in form.fields)


def choice_list_errors(form: FormDefinition, values: Mapping[str, Any],
                       choice_lists: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    """The ``choices_from`` fields whose value is not on its server list."""
    errors: dict[str, list[str]] = {}
    for field in form.fields:
        value = values.get(field.name)
        if field.choices_from is None or value is None:
            continue
        allowed = (choice_lists or {}).get(field.choices_from)
        if allowed is None:
            errors[field.name] = [f"The list of {field.choices_from} is not available here."]
        elif value not in allowed:
            shown = ", ".join(list(allowed)[:20]) or "none yet"
            errors[field.name] = [f"Choose one of the {field.choices_from} in the catalog ({shown})."]
    return errors


def validate_submission(form: FormDefinition, data: object,
                        choice_lists: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """Validate submitted ``data`` against ``form`` and return the values to store.

    The result is a new dict with every field of the form: the submitted value (dates and date-times
    normalised), else the field's default, else None. Raise `FormValidationError` with every problem,
    as a dict of field name to messages. ``choice_lists`` are the server lists that ``choices_from``
    fields must pick from (``{"services": [...]}``).
    """
    if not isinstance(data, dict):
        raise FormValidationError({"_schema": [NOT_AN_OBJECT_MESSAGE]})
    schema = _SCHEMAS.get(form)
    if schema is None:
        schema = _SCHEMAS[form] = build_schema(form)
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as error:
        messages = error.messages
        if not isinstance(messages, Mapping):
            messages = {"_schema": messages}
        errors = {name: _messages(value) for name, value in messages.items()}
        for name, problems in choice_list_errors(form, data, choice_lists).items():
            errors.setdefault(name, problems)
        raise FormValidationError(errors) from None
    errors = choice_list_errors(form, loaded, choice_lists)
    if errors:
        raise FormValidationError(errors)
    return loaded
