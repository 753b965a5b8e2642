"""Tests of FormDefinition.from_dict: what a form file may contain, and the problems it reports."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

import forms
from forms import FieldDefinition, FieldType, FormDefinition, FormDefinitionError, FormValidationError
from forms.definition import RequiredIf

# The example of docs/authoring-processes.md, with the decision field it refers to.
REQUEST_FORM: dict[str, Any] = {
    "title": "Request for change",
    "description": "Describe the change you want to make.",
    "fields": [
        {"name": "title", "type": "string", "label": "Title", "required": True, "max_length": 200},
        {
            "name": "impact",
            "type": "enum",
            "label": "Impact",
            "choices": ["low", "medium", "high"],
            "required": True,
        },
        {"name": "planned_start", "type": "date-time", "label": "Planned start", "required": True},
        {
            "name": "planned_end",
            "type": "date-time",
            "label": "Planned end",
            "required": True,
            "after": "planned_start",
        },
        {"name": "decision", "type": "enum", "choices": ["approve", "rework"]},
        {
            "name": "rework_reason",
            "type": "text",
            "label": "Why",
            "required_if": {"field": "decision", "in": ["rework"]},
        },
    ],
}

# One field of every type with every option that fits it.
EVERY_OPTION_FORM: dict[str, Any] = {
    "key": "all/options",
    "title": "Everything",
    "description": "All types and options.",
    "fields": [
        {
            "name": "summary",
            "type": "string",
            "label": "Summary",
            "description": "One line.",
            "required": True,
            "default": "abc",
            "min_length": 2,
            "max_length": 20,
            "pattern": "[a-z]+",
        },
        {"name": "notes", "type": "text", "max_length": 2000, "default": "none"},
        {"name": "count", "type": "integer", "min": 0, "max": 10, "default": 3},
        {"name": "ratio", "type": "number", "min": -1.5, "max": 2, "default": 0.5},
        {"name": "urgent", "type": "boolean", "default": False},
        {"name": "impact", "type": "enum", "choices": ["low", "high"], "default": "low"},
        {"name": "start_day", "type": "date", "default": "2026-11-27"},
        {"name": "end_day", "type": "date", "after": "start_day"},
        {"name": "start_at", "type": "date-time", "default": "2026-11-27T09:00:00+01:00"},
        {"name": "end_at", "type": "date-time", "after": "start_at"},
        {
            "name": "tags",
            "type": "list",
            "items": "string",
            "min_items": 1,
            "max_items": 3,
            "min_length": 1,
            "max_length": 10,
            "pattern": "[a-z]+",
            "default": ["a", "b"],
        },
        {"name": "regions", "type": "list", "items": "enum", "choices": ["eu", "us"]},
        {"name": "sizes", "type": "list", "items": "integer"},
        {"name": "weights", "type": "list", "items": "number"},
        {"name": "flags", "type": "list", "items": "boolean"},
        {"name": "days", "type": "list", "items": "date"},
        {"name": "moments", "type": "list", "items": "date-time"},
        {"name": "reason", "type": "text", "required_if": {"field": "impact", "in": ["high"]}},
    ],
}


def form_with(*fields: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A form dict with ``fields`` and a title."""
    return {"title": "Test form", **top, "fields": list(fields)}


def problems_of(data: object, key: str = "test/form") -> list[str]:
    """The problems FormDefinition.from_dict reports for ``data`` (fails when there are none)."""
    with pytest.raises(FormDefinitionError) as caught:
        FormDefinition.from_dict(key, data)  # type: ignore[arg-type]
    assert caught.value.key == key
    return caught.value.problems


class TestParsing:
    def test_documented_example_parses(self) -> None:
        form = FormDefinition.from_dict("change/request", REQUEST_FORM)
        assert form.key == "change/request"
        assert form.title == "Request for change"
        assert form.description == "Describe the change you want to make."
        assert form.field_names == (
            "title",
            "impact",
            "planned_start",
            "planned_end",
            "decision",
            "rework_reason",
        )
        assert isinstance(form.fields, tuple)
        assert all(isinstance(field, FieldDefinition) for field in form.fields)

    def test_field_attributes(self) -> None:
        form = FormDefinition.from_dict("change/request", REQUEST_FORM)
        title = form.field("title")
        assert title.type is FieldType.STRING
        assert title.required is True
        assert title.max_length == 200
        assert title.min_length is None
        impact = form.field("impact")
        assert impact.choices == ("low", "medium", "high")
        assert form.field("planned_end").after == "planned_start"
        assert form.field("rework_reason").required_if == RequiredIf(field="decision", values=("rework",))
        assert form.field("decision").required is False

    def test_field_lookup_of_unknown_name_raises_key_error(self) -> None:
        form = FormDefinition.from_dict("change/request", REQUEST_FORM)
        with pytest.raises(KeyError):
            form.field("nope")

    @pytest.mark.parametrize(
        ("name", "label"),
        [
            ("planned_start", "Planned start"),
            ("title", "Title"),
            ("x", "X"),
            ("VIP_level", "VIP level"),
            ("reason_2", "Reason 2"),
        ],
    )
    def test_default_label(self, name: str, label: str) -> None:
        form = FormDefinition.from_dict("t", form_with({"name": name, "type": "string"}))
        assert form.fields[0].label == label

    def test_explicit_label_is_kept(self) -> None:
        form = FormDefinition.from_dict("t", form_with({"name": "why", "type": "text", "label": "Reason"}))
        assert form.fields[0].label == "Reason"

    def test_description_is_optional(self) -> None:
        form = FormDefinition.from_dict("t", form_with({"name": "x", "type": "boolean"}))
        assert form.description is None
        assert form.fields[0].description is None

    def test_matching_key_is_accepted(self) -> None:
        form = FormDefinition.from_dict("a/b", form_with({"name": "x", "type": "boolean"}, key="a/b"))
        assert form.key == "a/b"

    def test_every_type_and_option_parses(self) -> None:
        form = FormDefinition.from_dict("all/options", EVERY_OPTION_FORM)
        types = {field.name: field.type for field in form.fields}
        assert set(types.values()) == set(FieldType)
        tags = form.field("tags")
        assert tags.items is FieldType.STRING
        assert tags.default == ("a", "b")
        assert (tags.min_items, tags.max_items, tags.min_length, tags.max_length) == (1, 3, 1, 10)
        assert form.field("regions").choices == ("eu", "us")
        assert form.field("ratio").min == -1.5

    def test_explicit_null_default_means_no_default(self) -> None:
        form = FormDefinition.from_dict("t", form_with({"name": "n", "type": "integer", "default": None}))
        assert form.fields[0].default is None

    def test_field_type_values(self) -> None:
        assert [str(member) for member in FieldType] == [
            "string",
            "text",
            "integer",
            "number",
            "boolean",
            "enum",
            "date",
            "date-time",
            "list",
        ]

    def test_input_is_not_modified(self) -> None:
        data = copy.deepcopy(EVERY_OPTION_FORM)
        FormDefinition.from_dict("all/options", data)
        assert data == EVERY_OPTION_FORM


class TestRoundTrip:
    @pytest.mark.parametrize("data", [REQUEST_FORM, EVERY_OPTION_FORM], ids=["request", "every-option"])
    def test_to_dict_from_dict_round_trip(self, data: dict[str, Any]) -> None:
        form = FormDefinition.from_dict("all/options", data)
        snapshot = json.loads(json.dumps(form.to_dict()))
        again = FormDefinition.from_dict(form.key, snapshot)
        assert again == form
        assert hash(again) == hash(form)
        assert again.to_dict() == form.to_dict()

    def test_to_dict_contents(self) -> None:
        form = FormDefinition.from_dict("change/request", REQUEST_FORM)
        data = form.to_dict()
        assert data["key"] == "change/request"
        assert data["title"] == "Request for change"
        assert data["fields"][0] == {
            "name": "title",
            "type": "string",
            "label": "Title",
            "required": True,
            "max_length": 200,
        }
        assert data["fields"][5]["required_if"] == {"field": "decision", "in": ["rework"]}
        assert data["fields"][4]["label"] == "Decision"

    def test_list_default_round_trips_as_list(self) -> None:
        form = FormDefinition.from_dict("all/options", EVERY_OPTION_FORM)
        tags = next(field for field in form.to_dict()["fields"] if field["name"] == "tags")
        assert tags["default"] == ["a", "b"]


class TestEqualityAndHashing:
    def test_equal_forms_are_equal_and_hash_alike(self) -> None:
        first = FormDefinition.from_dict("change/request", REQUEST_FORM)
        second = FormDefinition.from_dict("change/request", copy.deepcopy(REQUEST_FORM))
        assert first is not second
        assert first == second
        assert hash(first) == hash(second)
        assert len({first, second}) == 1

    def test_different_forms_differ(self) -> None:
        first = FormDefinition.from_dict("change/request", REQUEST_FORM)
        changed = copy.deepcopy(REQUEST_FORM)
        changed["fields"][0]["max_length"] = 100
        second = FormDefinition.from_dict("change/request", changed)
        assert first != second
        assert first != FormDefinition.from_dict("other/key", REQUEST_FORM)

    def test_form_is_frozen(self) -> None:
        form = FormDefinition.from_dict("change/request", REQUEST_FORM)
        with pytest.raises(AttributeError):
            form.title = "Other"  # type: ignore[misc]
        with pytest.raises(AttributeError):
            form.fields[0].required = False  # type: ignore[misc]

    def test_pickle_round_trip(self) -> None:
        form = FormDefinition.from_dict("all/options", EVERY_OPTION_FORM)
        hash(form)
        again = pickle.loads(pickle.dumps(form))
        # A hash cached in another process would be wrong here, so it must not be pickled.
        assert "_hash" not in again.__dict__
        assert again == form
        assert hash(again) == hash(form)


NAME_RULE = "'name' must be a Python identifier that is not a keyword and does not start with '_'"
TYPES = "string, text, integer, number, boolean, enum, date, date-time, list"
ITEM_TYPES = "string, integer, number, boolean, enum, date, date-time"

# (case id, form data, the exact problems expected). Each case breaks one rule.
DEFINITION_PROBLEMS: list[tuple[str, object, list[str]]] = [
    # The form itself.
    ("form-not-object", ["title"], ["the form must be a JSON object, not list"]),
    (
        "unknown-top-level-key",
        form_with({"name": "x", "type": "string"}, version=2),
        ["unknown top-level key 'version' (allowed: key, title, description, fields)"],
    ),
    (
        "key-mismatch",
        form_with({"name": "x", "type": "string"}, key="other/form"),
        ["'key' is 'other/form' but the form's key is 'test/form'"],
    ),
    ("title-missing", {"fields": [{"name": "x", "type": "string"}]}, ["'title' is required"]),
    (
        "title-blank",
        {"title": "  ", "fields": [{"name": "x", "type": "string"}]},
        ["'title' must be a non-empty string"],
    ),
    (
        "title-not-string",
        {"title": 5, "fields": [{"name": "x", "type": "string"}]},
        ["'title' must be a non-empty string"],
    ),
    (
        "description-not-string",
        form_with({"name": "x", "type": "string"}, description=["a"]),
        ["'description' must be a string"],
    ),
    ("fields-missing", {"title": "T"}, ["'fields' is required"]),
    ("fields-empty", {"title": "T", "fields": []}, ["'fields' must be a non-empty list of field objects"]),
    (
        "fields-not-list",
        {"title": "T", "fields": {"x": {}}},
        ["'fields' must be a non-empty list of field objects"],
    ),
    # Names and types.
    ("field-not-object", form_with("title"), ["fields[0]: must be a JSON object, not str"]),
    ("name-missing", form_with({"type": "string"}), ["fields[0]: 'name' is required"]),
    ("name-not-string", form_with({"name": 7, "type": "string"}), ["fields[0]: 'name' must be a string"]),
    (
        "name-not-identifier",
        form_with({"name": "two words", "type": "string"}),
        [f"field 'two words': {NAME_RULE}"],
    ),
    (
        "name-starts-with-underscore",
        form_with({"name": "_secret", "type": "string"}),
        [f"field '_secret': {NAME_RULE}"],
    ),
    (
        "name-is-keyword",
        form_with({"name": "class", "type": "string"}),
        [f"field 'class': {NAME_RULE}"],
    ),
    (
        "name-duplicate",
        form_with({"name": "x", "type": "string"}, {"name": "x", "type": "integer"}),
        ["field 'x': the name is used by more than one field"],
    ),
    ("type-missing", form_with({"name": "x"}), ["field 'x': 'type' is required"]),
    (
        "type-unknown",
        form_with({"name": "x", "type": "str"}),
        [f"field 'x': 'type' must be one of: {TYPES}; not 'str'"],
    ),
    (
        "type-not-string",
        form_with({"name": "x", "type": ["string"]}),
        [f"field 'x': 'type' must be one of: {TYPES}; not ['string']"],
    ),
    (
        "items-not-string",
        form_with({"name": "x", "type": "list", "items": {"type": "string"}}),
        [f"field 'x': 'items' must be one of: {ITEM_TYPES}; not {{'type': 'string'}}"],
    ),
    (
        "unknown-option",
        form_with({"name": "x", "type": "string", "placeholder": "..."}),
        ["field 'x': unknown option 'placeholder'"],
    ),
    # Options every type has.
    (
        "label-blank",
        form_with({"name": "x", "type": "string", "label": ""}),
        ["field 'x': 'label' must be a non-empty string"],
    ),
    (
        "label-not-string",
        form_with({"name": "x", "type": "string", "label": 1}),
        ["field 'x': 'label' must be a non-empty string"],
    ),
    (
        "field-description-not-string",
        form_with({"name": "x", "type": "string", "description": 1}),
        ["field 'x': 'description' must be a string"],
    ),
    (
        "required-not-bool",
        form_with({"name": "x", "type": "string", "required": "yes"}),
        ["field 'x': 'required' must be true or false"],
    ),
    # min / max.
    (
        "min-on-string",
        form_with({"name": "x", "type": "string", "min": 1}),
        ["field 'x': 'min' does not apply to a field of type 'string'"],
    ),
    (
        "max-on-date",
        form_with({"name": "x", "type": "date", "max": 1}),
        ["field 'x': 'max' does not apply to a field of type 'date'"],
    ),
    (
        "min-on-list-of-integer",
        form_with({"name": "x", "type": "list", "items": "integer", "min": 1}),
        ["field 'x': 'min' does not apply to a field of type 'list of integer'"],
    ),
    (
        "integer-min-not-integer",
        form_with({"name": "x", "type": "integer", "min": 1.5}),
        ["field 'x': 'min' must be an integer"],
    ),
    (
        "integer-max-bool",
        form_with({"name": "x", "type": "integer", "max": True}),
        ["field 'x': 'max' must be an integer"],
    ),
    (
        "number-min-string",
        form_with({"name": "x", "type": "number", "min": "1"}),
        ["field 'x': 'min' must be a finite number"],
    ),
    (
        "number-max-infinite",
        form_with({"name": "x", "type": "number", "max": float("inf")}),
        ["field 'x': 'max' must be a finite number"],
    ),
    (
        "min-greater-than-max",
        form_with({"name": "x", "type": "integer", "min": 5, "max": 1}),
        ["field 'x': 'min' (5) must not be greater than 'max' (1)"],
    ),
    # min_length / max_length / pattern.
    (
        "min-length-on-integer",
        form_with({"name": "x", "type": "integer", "min_length": 1}),
        ["field 'x': 'min_length' does not apply to a field of type 'integer'"],
    ),
    (
        "max-length-on-enum",
        form_with({"name": "x", "type": "enum", "choices": ["a"], "max_length": 1}),
        ["field 'x': 'max_length' does not apply to a field of type 'enum'"],
    ),
    (
        "min-length-negative",
        form_with({"name": "x", "type": "string", "min_length": -1}),
        ["field 'x': 'min_length' must be a non-negative integer"],
    ),
    (
        "max-length-not-integer",
        form_with({"name": "x", "type": "text", "max_length": "10"}),
        ["field 'x': 'max_length' must be a non-negative integer"],
    ),
    (
        "min-length-greater-than-max-length",
        form_with({"name": "x", "type": "string", "min_length": 5, "max_length": 2}),
        ["field 'x': 'min_length' (5) must not be greater than 'max_length' (2)"],
    ),
    (
        "pattern-on-boolean",
        form_with({"name": "x", "type": "boolean", "pattern": "a"}),
        ["field 'x': 'pattern' does not apply to a field of type 'boolean'"],
    ),
    (
        "pattern-on-list-of-date",
        form_with({"name": "x", "type": "list", "items": "date", "pattern": "a"}),
        ["field 'x': 'pattern' does not apply to a field of type 'list of date'"],
    ),
    (
        "pattern-not-string",
        form_with({"name": "x", "type": "string", "pattern": 5}),
        ["field 'x': 'pattern' must be a string"],
    ),
    (
        "pattern-does-not-compile",
        form_with({"name": "x", "type": "string", "pattern": "[a-"}),
        ["field 'x': 'pattern' is not a valid regular expression: unterminated character set at position 0"],
    ),
    # choices.
    (
        "choices-on-string",
        form_with({"name": "x", "type": "string", "choices": ["a"]}),
        ["field 'x': 'choices' does not apply to a field of type 'string'"],
    ),
    (
        "choices-on-list-of-string",
        form_with({"name": "x", "type": "list", "items": "string", "choices": ["a"]}),
        ["field 'x': 'choices' does not apply to a field of type 'list of string'"],
    ),
    (
        "enum-without-choices",
        form_with({"name": "x", "type": "enum"}),
        ["field 'x': 'choices' is required for a field of type 'enum'"],
    ),
    (
        "list-of-enum-without-choices",
        form_with({"name": "x", "type": "list", "items": "enum"}),
        ["field 'x': 'choices' is required for a field of type 'list of enum'"],
    ),
    (
        "choices-empty",
        form_with({"name": "x", "type": "enum", "choices": []}),
        ["field 'x': 'choices' must be a non-empty list of strings"],
    ),
    (
        "choices-not-strings",
        form_with({"name": "x", "type": "enum", "choices": ["a", 1]}),
        ["field 'x': 'choices' must be a non-empty list of strings"],
    ),
    (
        "choices-not-list",
        form_with({"name": "x", "type": "enum", "choices": "a,b"}),
        ["field 'x': 'choices' must be a non-empty list of strings"],
    ),
    (
        "choices-duplicate",
        form_with({"name": "x", "type": "enum", "choices": ["a", "b", "a"]}),
        ["field 'x': 'choices' lists 'a' more than once"],
    ),
    # items / min_items / max_items.
    (
        "items-on-string",
        form_with({"name": "x", "type": "string", "items": "string"}),
        ["field 'x': 'items' does not apply to a field of type 'string'"],
    ),
    (
        "list-without-items",
        form_with({"name": "x", "type": "list"}),
        ["field 'x': 'items' is required for a list field"],
    ),
    (
        "items-text",
        form_with({"name": "x", "type": "list", "items": "text"}),
        [f"field 'x': 'items' must be one of: {ITEM_TYPES}; not 'text'"],
    ),
    (
        "items-list",
        form_with({"name": "x", "type": "list", "items": "list"}),
        [f"field 'x': 'items' must be one of: {ITEM_TYPES}; not 'list'"],
    ),
    (
        "min-items-on-enum",
        form_with({"name": "x", "type": "enum", "choices": ["a"], "min_items": 1}),
        ["field 'x': 'min_items' does not apply to a field of type 'enum'"],
    ),
    (
        "max-items-negative",
        form_with({"name": "x", "type": "list", "items": "string", "max_items": -2}),
        ["field 'x': 'max_items' must be a non-negative integer"],
    ),
    (
        "min-items-greater-than-max-items",
        form_with({"name": "x", "type": "list", "items": "string", "min_items": 3, "max_items": 1}),
        ["field 'x': 'min_items' (3) must not be greater than 'max_items' (1)"],
    ),
    # after.
    (
        "after-on-string",
        form_with({"name": "a", "type": "date"}, {"name": "x", "type": "string", "after": "a"}),
        ["field 'x': 'after' does not apply to a field of type 'string'"],
    ),
    (
        "after-not-string",
        form_with({"name": "x", "type": "date", "after": 3}),
        ["field 'x': 'after' must be the name of another field"],
    ),
    (
        "after-unknown-field",
        form_with({"name": "x", "type": "date", "after": "start"}),
        ["field 'x': 'after' names 'start', which is not a field of this form"],
    ),
    (
        "after-itself",
        form_with({"name": "x", "type": "date", "after": "x"}),
        ["field 'x': 'after' must name another field, not the field itself"],
    ),
    (
        "after-other-type",
        form_with({"name": "a", "type": "date-time"}, {"name": "x", "type": "date", "after": "a"}),
        ["field 'x': 'after' names 'a', a date-time field; it must be a date field"],
    ),
    (
        "after-cycle",
        form_with({"name": "a", "type": "date", "after": "x"}, {"name": "x", "type": "date", "after": "a"}),
        ["field 'a': 'after' forms a cycle: a -> x -> a", "field 'x': 'after' forms a cycle: x -> a -> x"],
    ),
    # required_if.
    (
        "required-if-not-object",
        form_with({"name": "x", "type": "string", "required_if": "decision"}),
        ['field \'x\': \'required_if\' must be an object like {"field": "decision", "in": ["rework"]}'],
    ),
    (
        "required-if-unknown-key",
        form_with(
            {"name": "d", "type": "boolean"},
            {"name": "x", "type": "string", "required_if": {"field": "d", "in": [True], "not_in": [False]}},
        ),
        ["field 'x': 'required_if' has unknown key 'not_in'"],
    ),
    (
        "required-if-field-missing",
        form_with({"name": "x", "type": "string", "required_if": {"in": ["a"]}}),
        ["field 'x': 'required_if.field' must be the name of another field"],
    ),
    (
        "required-if-in-empty",
        form_with(
            {"name": "d", "type": "boolean"},
            {"name": "x", "type": "string", "required_if": {"field": "d", "in": []}},
        ),
        ["field 'x': 'required_if.in' must be a non-empty list of values"],
    ),
    (
        "required-if-unknown-field",
        form_with({"name": "x", "type": "string", "required_if": {"field": "decision", "in": ["rework"]}}),
        ["field 'x': 'required_if' names 'decision', which is not a field of this form"],
    ),
    (
        "required-if-itself",
        form_with({"name": "x", "type": "string", "required_if": {"field": "x", "in": ["a"]}}),
        ["field 'x': 'required_if' must name another field, not the field itself"],
    ),
    (
        "required-if-list-field",
        form_with(
            {"name": "tags", "type": "list", "items": "string"},
            {"name": "x", "type": "string", "required_if": {"field": "tags", "in": ["a"]}},
        ),
        ["field 'x': 'required_if' names 'tags', a list field; it cannot be compared"],
    ),
    (
        "required-if-value-not-a-choice",
        form_with(
            {"name": "decision", "type": "enum", "choices": ["approve", "rework"]},
            {"name": "x", "type": "string", "required_if": {"field": "decision", "in": ["reject"]}},
        ),
        [
            "field 'x': 'required_if.in' value 'reject' is not a valid value of 'decision': "
            "Must be one of: approve, rework."
        ],
    ),
    (
        "required-if-value-wrong-type",
        form_with(
            {"name": "urgent", "type": "boolean"},
            {"name": "x", "type": "string", "required_if": {"field": "urgent", "in": ["yes"]}},
        ),
        ["field 'x': 'required_if.in' value 'yes' is not a valid value of 'urgent': Not a valid boolean."],
    ),
    (
        "required-if-on-required-field",
        form_with(
            {"name": "urgent", "type": "boolean"},
            {
                "name": "x",
                "type": "string",
                "required": True,
                "required_if": {"field": "urgent", "in": [True]},
            },
        ),
        ["field 'x': 'required_if' has no effect on a required field"],
    ),
    # default.
    (
        "default-wrong-type",
        form_with({"name": "x", "type": "integer", "default": "3"}),
        ["field 'x': 'default' '3' is not valid: Not a valid integer."],
    ),
    (
        "default-not-a-choice",
        form_with({"name": "x", "type": "enum", "choices": ["a", "b"], "default": "c"}),
        ["field 'x': 'default' 'c' is not valid: Must be one of: a, b."],
    ),
    (
        "default-above-max",
        form_with({"name": "x", "type": "number", "max": 1, "default": 1.5}),
        ["field 'x': 'default' 1.5 is not valid: Must be at most 1."],
    ),
    (
        "default-against-pattern",
        form_with({"name": "x", "type": "string", "pattern": "[0-9]+", "default": "12a"}),
        ["field 'x': 'default' '12a' is not valid: Must match the pattern [0-9]+."],
    ),
    (
        "default-blank-on-required-field",
        form_with({"name": "x", "type": "string", "required": True, "default": " "}),
        ["field 'x': 'default' ' ' is not valid: Must not be blank."],
    ),
    (
        "default-naive-date-time",
        form_with({"name": "x", "type": "date-time", "default": "2026-11-27T09:00:00"}),
        [
            "field 'x': 'default' '2026-11-27T09:00:00' is not valid: "
            "Add a timezone offset, for example Z or +01:00."
        ],
    ),
    (
        "default-list-item",
        form_with({"name": "x", "type": "list", "items": "integer", "default": [1, "2"]}),
        ["field 'x': 'default' [1, '2'] is not valid: Item 2: Not a valid integer."],
    ),
    (
        "default-too-many-items",
        form_with(
            {"name": "x", "type": "list", "items": "boolean", "max_items": 1, "default": [True, False]}
        ),
        ["field 'x': 'default' [True, False] is not valid: Must have at most 1 item."],
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"),
    [pytest.param(data, expected, id=case) for case, data, expected in DEFINITION_PROBLEMS],
)
def test_definition_problem(data: object, expected: list[str]) -> None:
    assert problems_of(data) == expected


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "title": "",
        "colour": "red",
        "fields": [
            {"name": "a", "type": "integer", "min": "1", "label": ""},
            {"name": "b", "type": "enum"},
            {"name": "c", "type": "date", "after": "nowhere"},
            {"name": "d", "type": "string", "default": 4},
        ],
    }
    problems = problems_of(data)
    assert problems == [
        "unknown top-level key 'colour' (allowed: key, title, description, fields)",
        "'title' must be a non-empty string",
        "field 'a': 'label' must be a non-empty string",
        "field 'a': 'min' must be an integer",
        "field 'b': 'choices' is required for a field of type 'enum'",
        "field 'c': 'after' names 'nowhere', which is not a field of this form",
        "field 'd': 'default' 4 is not valid: Not a valid string.",
    ]


def test_field_with_own_problems_is_still_checked_for_references() -> None:
    problems = problems_of(
        form_with({"name": "x", "type": "date", "after": "missing", "hint": "?"}),
    )
    assert problems == [
        "field 'x': unknown option 'hint'",
        "field 'x': 'after' names 'missing', which is not a field of this form",
    ]


def test_reference_to_a_broken_field_is_not_reported_twice() -> None:
    problems = problems_of(
        form_with(
            {"name": "start", "type": "dat"},
            {"name": "end", "type": "date", "after": "start"},
        )
    )
    assert problems == [f"field 'start': 'type' must be one of: {TYPES}; not 'dat'"]


def test_default_is_not_checked_against_broken_options() -> None:
    # The choices are wrong, so whether the default is one of them cannot be told.
    problems = problems_of(form_with({"name": "x", "type": "enum", "choices": ["a", "a"], "default": "z"}))
    assert problems == ["field 'x': 'choices' lists 'a' more than once"]


class TestErrors:
    def test_definition_error_message(self) -> None:
        error = FormDefinitionError(
            "change/request", ["field 'x': 'type' is required", "'title' is required"]
        )
        assert error.problems == ["field 'x': 'type' is required", "'title' is required"]
        assert error.key == "change/request"
        assert str(error) == (
            "The form definition is invalid. (change/request)\n"
            "- field 'x': 'type' is required\n"
            "- 'title' is required"
        )
        assert FormDefinitionError.__doc__ == "The form definition is invalid."

    def test_definition_error_pickles(self) -> None:
        error = pickle.loads(pickle.dumps(FormDefinitionError("k", ["p"])))
        assert (error.key, error.problems, str(error)) == (
            "k",
            ["p"],
            "The form definition is invalid. (k)\n- p",
        )

    def test_validation_error_message(self) -> None:
        error = FormValidationError({"x": ["Unknown field."]})
        assert error.errors == {"x": ["Unknown field."]}
        assert str(error) == "The submitted data does not match the form."
        assert FormValidationError.__doc__ == str(error)
        again = pickle.loads(pickle.dumps(error))
        assert again.errors == error.errors

    def test_both_are_value_errors(self) -> None:
        assert issubclass(FormDefinitionError, ValueError)
        assert issubclass(FormValidationError, ValueError)


def test_public_api() -> None:
    assert sorted(forms.__all__) == sorted(
        [
            "FieldType",
            "FieldDefinition",
            "FormDefinition",
            "FormDefinitionError",
            "FormValidationError",
            "validate_submission",
            "to_json_schema",
            "load_form_directory",
            "uses_choice_lists",
        ]
    )
    for name in forms.__all__:
        assert getattr(forms, name) is not None


def test_choices_from_takes_a_server_list_checked_on_submission_and_exported() -> None:
    from forms.validation import validate_submission as validate

    form = FormDefinition.from_dict("f", {"title": "F", "fields": [
        {"name": "service", "type": "string", "required": True, "choices_from": "services"}]})
    assert form.fields[0].choices_from == "services" and form.to_dict()["fields"][0]["choices_from"] == "services"
    assert validate(form, {"service": "mail"}, {"services": ["mail", "payroll"]}) == {"service": "mail"}
    with pytest.raises(forms.FormValidationError) as refused:
        validate(form, {"service": "moon"}, {"services": ["mail"]})
    assert list(refused.value.errors) == ["service"]
    with pytest.raises(forms.FormValidationError):  # no list given: nothing passes unchecked
        validate(form, {"service": "mail"})
    schema = forms.to_json_schema(form, {}, {"services": ["mail"]})
    assert schema["properties"]["service"]["enum"] == ["mail"]
    assert schema["properties"]["service"]["x-choices-from"] == "services"
    for wrong in ({"type": "integer", "choices_from": "services"}, {"type": "string", "choices_from": "planets"}):
        with pytest.raises(FormDefinitionError):
            FormDefinition.from_dict("g", {"title": "G", "fields": [{"name": "n", **wrong}]})
