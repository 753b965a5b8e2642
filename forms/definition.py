"""Form definitions: the field types, the frozen dataclasses, and parsing and checking a form's dict."""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from forms.errors import FormDefinitionError

JSONScalar = str | int | float | bool


class FieldType(StrEnum):
    """The type of a form field, as written in the form file."""

    STRING = "string"
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ENUM = "enum"
    DATE = "date"
    DATE_TIME = "date-time"
    LIST = "list"


#: The types a list's ``items`` may have.
ITEM_TYPES: tuple[FieldType, ...] = (
    FieldType.STRING,
    FieldType.INTEGER,
    FieldType.NUMBER,
    FieldType.BOOLEAN,
    FieldType.ENUM,
    FieldType.DATE,
    FieldType.DATE_TIME,
)
_TYPE_NAMES = frozenset(member.value for member in FieldType)
_TEXT_TYPES = frozenset({FieldType.STRING, FieldType.TEXT})
_NUMERIC_TYPES = frozenset({FieldType.INTEGER, FieldType.NUMBER})
_TEMPORAL_TYPES = frozenset({FieldType.DATE, FieldType.DATE_TIME})

_TOP_LEVEL_KEYS = ("key", "title", "description", "fields")
_FIELD_KEYS = (
    "name",
    "type",
    "label",
    "description",
    "required",
    "default",
    "min",
    "max",
    "min_length",
    "max_length",
    "pattern",
    "choices",
    "items",
    "min_items",
    "max_items",
    "after",
    "required_if",
    "choices_from",
)
#: The server lists a ``string`` field may take its choices from (``choices_from``); the application supplies them.
CHOICE_LISTS = frozenset({"services"})
_LENGTH_OPTIONS = ("min_length", "max_length", "pattern")
_LIST_OPTIONS = ("items", "min_items", "max_items")


@dataclass(frozen=True)
class RequiredIf:
    """``required_if``: the field is required when field ``field`` has one of ``values``."""

    field: str
    values: tuple[JSONScalar, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the ``{"field": ..., "in": [...]}`` form used in form files."""
        return {"field": self.field, "in": list(self.values)}


@dataclass(frozen=True)
class FieldDefinition:
    """One field of a form. Build it with `FormDefinition.from_dict`, which checks every option.

    ``default`` is None when the field declares no default; a list default is stored as a tuple.
    """

    name: str
    type: FieldType
    label: str
    description: str | None = None
    required: bool = False
    default: Any = None
    min: int | float | None = None
    max: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    choices: tuple[str, ...] | None = None
    items: FieldType | None = None
    min_items: int | None = None
    max_items: int | None = None
    after: str | None = None
    required_if: RequiredIf | None = None
    choices_from: str | None = None  # a server list (``CHOICE_LISTS``) the value must be on

    @property
    def value_type(self) -> FieldType:
        """The type of one value: ``items`` for a list, else ``type``."""
        if self.type is FieldType.LIST and self.items is not None:
            return self.items
        return self.type

    def to_dict(self) -> dict[str, Any]:
        """Return the field as written in a form file (JSON-able); options left unset are omitted."""
        result: dict[str, Any] = {"name": self.name, "type": str(self.type), "label": self.label}
        if self.description is not None:
            result["description"] = self.description
        result["required"] = self.required
        if self.default is not None:
            result["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        for option in ("min", "max", "min_length", "max_length", "pattern"):
            value = getattr(self, option)
            if value is not None:
                result[option] = value
        if self.choices is not None:
            result["choices"] = list(self.choices)
        if self.items is not None:
            result["items"] = str(self.items)
        for option in ("min_items", "max_items", "after"):
            value = getattr(self, option)
            if value is not None:
                result[option] = value
        if self.required_if is not None:
            result["required_if"] = self.required_if.to_dict()
        if self.choices_from is not None:
            result["choices_from"] = self.choices_from
        return result


@dataclass(frozen=True)
class FormDefinition:
    """A checked form: its key, title, description and fields, in order."""

    key: str
    title: str
    description: str | None
    fields: tuple[FieldDefinition, ...]

    def __hash__(self) -> int:
        # Forms are cache keys for their compiled schema; hashing every nested field on each lookup
        # would cost more than the validation itself, so the hash is computed once.
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.key, self.title, self.description, self.fields))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self) -> dict[str, Any]:
        # String hashes differ between processes, so a pickled hash must not travel.
        return {name: value for name, value in self.__dict__.items() if name != "_hash"}

    @property
    def field_names(self) -> tuple[str, ...]:
        """The names of the fields, in order."""
        return tuple(field.name for field in self.fields)

    def field(self, name: str) -> FieldDefinition:
        """Return the field called ``name``; raise KeyError when there is none."""
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return the form as a form file's JSON object, including its ``key``.

        ``FormDefinition.from_dict(form.key, form.to_dict()) == form``.
        """
        result: dict[str, Any] = {"key": self.key, "title": self.title}
        if self.description is not None:
            result["description"] = self.description
        result["fields"] = [field.to_dict() for field in self.fields]
        return result

    @classmethod
    def from_dict(cls, key: str, data: object) -> FormDefinition:
        """Parse and check a form file's JSON object.

        Raise `FormDefinitionError` listing every problem found, each naming the field it concerns.
        """
        problems: list[str] = []
        form = _parse_form(key, data, problems)
        if problems or form is None:
            raise FormDefinitionError(key, problems)
        return form


def default_label(name: str) -> str:
    """The label of a field that declares none: ``planned_start`` -> ``Planned start``."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return _is_int(value)


def _type_description(field_type: FieldType, items: FieldType | None) -> str:
    if field_type is FieldType.LIST and items is not None:
        return f"list of {items}"
    return str(field_type)


def _parse_form(key: str, data: object, problems: list[str]) -> FormDefinition | None:
    if not isinstance(data, Mapping):
        problems.append(f"the form must be a JSON object, not {type(data).__name__}")
        return None
    for name in data:
        if name not in _TOP_LEVEL_KEYS:
            problems.append(f"unknown top-level key {name!r} (allowed: {', '.join(_TOP_LEVEL_KEYS)})")
    if "key" in data and data["key"] != key:
        problems.append(f"'key' is {data['key']!r} but the form's key is {key!r}")

    title = data.get("title")
    if "title" not in data:
        problems.append("'title' is required")
    elif not isinstance(title, str) or not title.strip():
        problems.append("'title' must be a non-empty string")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        problems.append("'description' must be a string")

    raw_fields = data.get("fields")
    if "fields" not in data:
        problems.append("'fields' is required")
        return None
    if not isinstance(raw_fields, list) or not raw_fields:
        problems.append("'fields' must be a non-empty list of field objects")
        return None

    parsed = [_parse_field(index, raw, problems) for index, raw in enumerate(raw_fields)]
    _check_unique_names(raw_fields, problems)
    by_name: dict[str, _ParsedField] = {}
    for entry in parsed:
        if entry is not None:
            by_name.setdefault(entry.field.name, entry)
    # Fields too broken to build: their own problems are reported, references to them are not.
    broken = {
        raw["name"] for raw in raw_fields if isinstance(raw, dict) and isinstance(raw.get("name"), str)
    } - by_name.keys()
    for entry in parsed:
        if entry is not None:
            _check_references(entry, by_name, broken, problems)
    if problems or not isinstance(title, str):
        return None
    fields = tuple(entry.field for entry in parsed if entry is not None)
    return FormDefinition(key=key, title=title, description=description, fields=fields)


def _check_unique_names(raw_fields: list[Any], problems: list[str]) -> None:
    seen: set[str] = set()
    reported: set[str] = set()
    for raw in raw_fields:
        name = raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen and name not in reported:
            problems.append(f"field {name!r}: the name is used by more than one field")
            reported.add(name)
        seen.add(name)


@dataclass
class _ParsedField:
    """A field as far as it could be read: ``field`` leaves out every option that has a problem."""

    field: FieldDefinition
    raw: dict[str, Any]
    clean: bool


#: Records a problem: (option, message, *other options it concerns).
_Problem = Callable[..., None]


def _parse_field(index: int, raw: object, problems: list[str]) -> _ParsedField | None:
    """Check one field's own options; return None when it lacks a usable name, type or item type."""
    if not isinstance(raw, dict):
        problems.append(f"fields[{index}]: must be a JSON object, not {type(raw).__name__}")
        return None
    name = raw.get("name")
    where = f"field {name!r}" if isinstance(name, str) and name else f"fields[{index}]"
    own: list[str] = []
    bad: set[str] = set()

    def problem(option: str, message: str, *more_options: str) -> None:
        own.append(message)
        bad.update((option, *more_options))

    for option in raw:
        if option not in _FIELD_KEYS:
            problem(option, f"unknown option {option!r}")

    if "name" not in raw:
        problem("name", "'name' is required")
    elif not isinstance(name, str):
        problem("name", "'name' must be a string")
    elif not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        problem(
            "name", "'name' must be a Python identifier that is not a keyword and does not start with '_'"
        )

    field_type: FieldType | None = None
    raw_type = raw.get("type")
    if "type" not in raw:
        problem("type", "'type' is required")
    elif not isinstance(raw_type, str) or raw_type not in _TYPE_NAMES:
        problem("type", f"'type' must be one of: {', '.join(FieldType)}; not {raw_type!r}")
    else:
        field_type = FieldType(raw_type)

    label = raw.get("label")
    if "label" in raw and (not isinstance(label, str) or not label.strip()):
        problem("label", "'label' must be a non-empty string")
    if "description" in raw and not isinstance(raw["description"], str):
        problem("description", "'description' must be a string")
    if "required" in raw and not isinstance(raw["required"], bool):
        problem("required", "'required' must be true or false")

    items: FieldType | None = None
    if field_type is not None:
        items = _check_type_options(raw, field_type, problem)

    pattern = raw.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as error:
            problem("pattern", f"'pattern' is not a valid regular expression: {error}")
    elif "pattern" in raw:
        problem("pattern", "'pattern' must be a string")
    if "choices" in raw:
        for message in _choices_problems(raw["choices"]):
            problem("choices", message)
    after = raw.get("after")
    if "after" in raw and (not isinstance(after, str) or not after):
        problem("after", "'after' must be the name of another field")
    if "required_if" in raw:
        for message in _required_if_problems(raw["required_if"]):
            problem("required_if", message)
    if "choices_from" in raw:
        if raw["choices_from"] not in CHOICE_LISTS:
            problem("choices_from", f"'choices_from' must be one of: {', '.join(sorted(CHOICE_LISTS))}")
        elif field_type is not FieldType.STRING:
            problem("choices_from", "'choices_from' fits only a 'string' field")

    problems.extend(f"{where}: {message}" for message in own)
    if field_type is None or not isinstance(name, str) or "name" in bad:
        return None
    if field_type is FieldType.LIST and items is None:
        return None

    def value_of(key: str) -> Any:
        return raw.get(key) if key not in bad else None

    default = value_of("default")
    choices = value_of("choices")
    required_if = value_of("required_if")
    field = FieldDefinition(
        name=name,
        type=field_type,
        label=value_of("label") or default_label(name),
        description=value_of("description"),
        required=value_of("required") or False,
        default=tuple(default) if isinstance(default, list) else default,
        min=value_of("min"),
        max=value_of("max"),
        min_length=value_of("min_length"),
        max_length=value_of("max_length"),
        pattern=value_of("pattern"),
        choices=tuple(choices) if choices is not None else None,
        items=items,
        min_items=value_of("min_items"),
        max_items=value_of("max_items"),
        after=value_of("after"),
        choices_from=value_of("choices_from"),
        required_if=(
            RequiredIf(field=required_if["field"], values=tuple(required_if["in"]))
            if required_if is not None
            else None
        ),
    )
    return _ParsedField(field=field, raw=raw, clean=not own)


def _check_type_options(raw: dict[str, Any], field_type: FieldType, problem: _Problem) -> FieldType | None:
    """Check that the type-specific options fit ``field_type`` and have the right JSON types."""
    items: FieldType | None = None
    if field_type is FieldType.LIST:
        raw_items = raw.get("items")
        if "items" not in raw:
            problem("items", "'items' is required for a list field")
        elif raw_items not in ITEM_TYPES:
            problem("items", f"'items' must be one of: {', '.join(ITEM_TYPES)}; not {raw_items!r}")
        else:
            items = FieldType(raw_items)
    value_type = items if field_type is FieldType.LIST else field_type
    described = _type_description(field_type, items)

    def fits(option: str) -> bool:
        if option in ("min", "max"):
            return field_type in _NUMERIC_TYPES
        if option in _LENGTH_OPTIONS:
            return value_type in _TEXT_TYPES
        if option == "choices":
            return value_type is FieldType.ENUM
        if option in _LIST_OPTIONS:
            return field_type is FieldType.LIST
        if option == "after":
            return field_type in _TEMPORAL_TYPES
        return True

    for option in raw:
        if option in _FIELD_KEYS and not fits(option):
            # Without a valid item type it is unknown which item options fit; that was reported above.
            if field_type is FieldType.LIST and items is None and option not in _LIST_OPTIONS:
                continue
            problem(option, f"'{option}' does not apply to a field of type '{described}'")

    if value_type is FieldType.ENUM and "choices" not in raw:
        problem("choices", f"'choices' is required for a field of type '{described}'")

    if field_type in _NUMERIC_TYPES:
        check = _is_int if field_type is FieldType.INTEGER else _is_number
        noun = "an integer" if field_type is FieldType.INTEGER else "a finite number"
        _check_bounds(raw, "min", "max", check, noun, problem)
    if value_type in _TEXT_TYPES:
        _check_bounds(raw, "min_length", "max_length", _is_count, "a non-negative integer", problem)
    if field_type is FieldType.LIST:
        _check_bounds(raw, "min_items", "max_items", _is_count, "a non-negative integer", problem)
    return items


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_bounds(
    raw: dict[str, Any], low: str, high: str, check: Callable[[object], bool], noun: str, problem: _Problem
) -> None:
    valid = True
    for option in (low, high):
        if option in raw and not check(raw[option]):
            problem(option, f"'{option}' must be {noun}")
            valid = False
    if valid and low in raw and high in raw and raw[low] > raw[high]:
        message = f"'{low}' ({raw[low]}) must not be greater than '{high}' ({raw[high]})"
        problem(low, message, high)


def _choices_problems(choices: object) -> list[str]:
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        return ["'choices' must be a non-empty list of strings"]
    seen: set[str] = set()
    duplicates: list[str] = []
    for choice in choices:
        if choice in seen and choice not in duplicates:
            duplicates.append(choice)
        seen.add(choice)
    return [f"'choices' lists {choice!r} more than once" for choice in duplicates]


def _required_if_problems(required_if: object) -> list[str]:
    shape = '\'required_if\' must be an object like {"field": "decision", "in": ["rework"]}'
    if not isinstance(required_if, dict):
        return [shape]
    found = [f"'required_if' has unknown key {name!r}" for name in required_if if name not in ("field", "in")]
    other = required_if.get("field")
    if not isinstance(other, str) or not other:
        found.append("'required_if.field' must be the name of another field")
    values = required_if.get("in")
    if not isinstance(values, list) or not values:
        found.append("'required_if.in' must be a non-empty list of values")
    return found


def _check_references(
    entry: _ParsedField, by_name: dict[str, _ParsedField], broken: set[str], problems: list[str]
) -> None:
    """Check what needs the other fields or the validator: ``after``, ``required_if``, ``default``."""
    # Imported here because forms.validation builds on the dataclasses of this module.
    from forms.validation import check_value

    field = entry.field
    where = f"field {field.name!r}"
    if field.after is not None:
        other = by_name.get(field.after)
        if field.after == field.name:
            problems.append(f"{where}: 'after' must name another field, not the field itself")
        elif other is None:
            if field.after not in broken:
                problems.append(f"{where}: 'after' names {field.after!r}, which is not a field of this form")
        elif other.field.type is not field.type:
            problems.append(
                f"{where}: 'after' names {field.after!r}, a {other.field.type} field; "
                f"it must be a {field.type} field"
            )
        else:
            cycle = _after_cycle(field, by_name)
            if cycle:
                problems.append(f"{where}: 'after' forms a cycle: {' -> '.join(cycle)}")

    if field.required_if is not None:
        rule = field.required_if
        other = by_name.get(rule.field)
        if field.required:
            problems.append(f"{where}: 'required_if' has no effect on a required field")
        if rule.field == field.name:
            problems.append(f"{where}: 'required_if' must name another field, not the field itself")
        elif other is None:
            if rule.field not in broken:
                problems.append(
                    f"{where}: 'required_if' names {rule.field!r}, which is not a field of this form"
                )
        elif other.field.type is FieldType.LIST:
            problems.append(
                f"{where}: 'required_if' names {rule.field!r}, a list field; it cannot be compared"
            )
        elif other.clean:
            for value in rule.values:
                messages = check_value(other.field, value)
                if messages:
                    problems.append(
                        f"{where}: 'required_if.in' value {value!r} is not a valid value of "
                        f"{rule.field!r}: {' '.join(messages)}"
                    )

    # Checking a default against a field whose other options are wrong would only add noise.
    if entry.clean and field.default is not None:
        default = entry.raw["default"]
        messages = check_value(field, default)
        if messages:
            problems.append(f"{where}: 'default' {default!r} is not valid: {' '.join(messages)}")


def _after_cycle(field: FieldDefinition, by_name: dict[str, _ParsedField]) -> list[str]:
    """The names along an ``after`` chain that comes back to ``field``, or [] when it does not."""
    chain = [field.name]
    current = by_name.get(field.after or "")
    while current is not None and current.field.name not in chain:
        chain.append(current.field.name)
        current = by_name.get(current.field.after or "")
    if current is not None and current.field.name == field.name:
        return [*chain, field.name]
    return []
