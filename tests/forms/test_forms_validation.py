"""Tests of validate_submission: strict JSON types, options, cross-field rules and the output."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import forms.validation
from forms import FormDefinition, FormValidationError, validate_submission


def make_form(*fields: dict[str, Any]) -> FormDefinition:
    """A form with ``fields``."""
    return FormDefinition.from_dict("test/form", {"title": "Test form", "fields": list(fields)})


def one_field(**field: Any) -> FormDefinition:
    """A form with one field called ``value``."""
    return make_form({"name": "value", **field})


def errors_of(form: FormDefinition, data: object) -> dict[str, list[str]]:
    """The errors validate_submission reports for ``data`` (fails when it accepts the data)."""
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, data)
    return caught.value.errors


def value_of(form: FormDefinition, value: object) -> object:
    """The stored value of field ``value`` after submitting ``value``."""
    return validate_submission(form, {"value": value})["value"]


# (type options, accepted values). Each value must come back unchanged.
VALID_VALUES: list[tuple[dict[str, Any], list[object]]] = [
    ({"type": "string"}, ["", "x", "  padded  ", "ünïcødé"]),
    ({"type": "text"}, ["line one\nline two", ""]),
    ({"type": "integer"}, [0, -3, 42, 10**30]),
    ({"type": "number"}, [0, 1, -2.5, 1e300, 3.0]),
    ({"type": "boolean"}, [True, False]),
    ({"type": "enum", "choices": ["low", "medium", "high"]}, ["low", "high"]),
    ({"type": "date"}, ["2026-11-27", "2024-02-29", "0001-01-01"]),
    ({"type": "list", "items": "string"}, [[], ["a", "b"], ["a", "a"]]),
    ({"type": "list", "items": "integer"}, [[1, 2, 3]]),
    ({"type": "list", "items": "number"}, [[1, 2.5]]),
    ({"type": "list", "items": "boolean"}, [[True, False]]),
    ({"type": "list", "items": "enum", "choices": ["eu", "us"]}, [["us", "eu"]]),
    ({"type": "list", "items": "date"}, [["2026-11-27"]]),
]

# (type options, rejected value, the message).
INVALID_VALUES: list[tuple[dict[str, Any], object, str]] = [
    ({"type": "string"}, 5, "Not a valid string."),
    ({"type": "string"}, True, "Not a valid string."),
    ({"type": "string"}, ["a"], "Not a valid string."),
    ({"type": "string"}, {"a": 1}, "Not a valid string."),
    ({"type": "text"}, 1.5, "Not a valid string."),
    ({"type": "integer"}, True, "Not a valid integer."),
    ({"type": "integer"}, False, "Not a valid integer."),
    ({"type": "integer"}, 1.5, "Not a valid integer."),
    ({"type": "integer"}, 1.0, "Not a valid integer."),
    ({"type": "integer"}, "1", "Not a valid integer."),
    ({"type": "integer"}, [1], "Not a valid integer."),
    ({"type": "number"}, True, "Not a valid number."),
    ({"type": "number"}, "1.5", "Not a valid number."),
    ({"type": "number"}, float("nan"), "Not a valid number."),
    ({"type": "number"}, float("inf"), "Not a valid number."),
    ({"type": "boolean"}, 1, "Not a valid boolean."),
    ({"type": "boolean"}, 0, "Not a valid boolean."),
    ({"type": "boolean"}, "true", "Not a valid boolean."),
    ({"type": "enum", "choices": ["low", "medium", "high"]}, "LOW", "Must be one of: low, medium, high."),
    ({"type": "enum", "choices": ["low", "medium", "high"]}, "", "Must be one of: low, medium, high."),
    ({"type": "enum", "choices": ["low", "medium", "high"]}, 1, "Must be one of: low, medium, high."),
    ({"type": "enum", "choices": ["low", "medium", "high"]}, ["low"], "Must be one of: low, medium, high."),
    ({"type": "date"}, "2026-02-30", "Not a valid date. Use YYYY-MM-DD, for example 2026-11-27."),
    ({"type": "date"}, "27/11/2026", "Not a valid date. Use YYYY-MM-DD, for example 2026-11-27."),
    ({"type": "date"}, "20261127", "Not a valid date. Use YYYY-MM-DD, for example 2026-11-27."),
    ({"type": "date"}, "2026-11-27T00:00:00Z", "Not a valid date. Use YYYY-MM-DD, for example 2026-11-27."),
    ({"type": "date"}, "２０２６-11-27", "Not a valid date. Use YYYY-MM-DD, for example 2026-11-27."),
    ({"type": "date"}, 20261127, "Not a valid date. Use YYYY-MM-DD, for example 2026-11-27."),
    ({"type": "list", "items": "string"}, "a", "Not a valid list."),
    ({"type": "list", "items": "string"}, {"0": "a"}, "Not a valid list."),
    ({"type": "list", "items": "integer"}, 1, "Not a valid list."),
]

DATE_TIME_ERROR = "Not a valid date-time. Use ISO 8601, for example 2026-11-27T09:00:00Z."
OFFSET_ERROR = "Add a timezone offset, for example Z or +01:00."


class TestTypes:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            pytest.param(field, value, id=f"{field['type']}-{value!r}")
            for field, values in VALID_VALUES
            for value in values
        ],
    )
    def test_valid_value_is_returned_as_given(self, field: dict[str, Any], value: object) -> None:
        result = value_of(one_field(**field), value)
        assert result == value
        assert type(result) is type(value)

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            pytest.param(field, value, message, id=f"{field['type']}-{value!r}")
            for field, value, message in INVALID_VALUES
        ],
    )
    def test_invalid_value_is_rejected(self, field: dict[str, Any], value: object, message: str) -> None:
        assert errors_of(one_field(**field), {"value": value}) == {"value": [message]}

    def test_string_is_not_stripped(self) -> None:
        assert value_of(one_field(type="string", required=True), "  x \n") == "  x \n"


class TestDateTime:
    @pytest.mark.parametrize(
        ("value", "stored"),
        [
            ("2026-11-27T09:00:00Z", "2026-11-27T09:00:00+00:00"),
            ("2026-11-27T09:00:00+00:00", "2026-11-27T09:00:00+00:00"),
            ("2026-11-27T09:00:00+01:00", "2026-11-27T08:00:00+00:00"),
            ("2026-11-27T23:30:00-02:00", "2026-11-28T01:30:00+00:00"),
            ("2026-11-27T09:00Z", "2026-11-27T09:00:00+00:00"),
            ("2026-11-27 09:00:00Z", "2026-11-27T09:00:00+00:00"),
            ("2026-11-27t09:00:00z", "2026-11-27T09:00:00+00:00"),
            ("2026-11-27T09:00:00.000Z", "2026-11-27T09:00:00+00:00"),
            ("2026-11-27T09:00:00.5Z", "2026-11-27T09:00:00.500000+00:00"),
            ("2026-11-27T09:00:00.123456+05:30", "2026-11-27T03:30:00.123456+00:00"),
        ],
    )
    def test_normalised_to_utc(self, value: str, stored: str) -> None:
        assert value_of(one_field(type="date-time"), value) == stored

    @pytest.mark.parametrize("value", ["2026-11-27T09:00:00", "2026-11-27T09:00", "2026-11-27 09:00:00.5"])
    def test_naive_value_asks_for_an_offset(self, value: str) -> None:
        assert errors_of(one_field(type="date-time"), {"value": value}) == {"value": [OFFSET_ERROR]}

    @pytest.mark.parametrize(
        "value",
        [
            "2026-11-27",
            "2026-11-27T25:00:00Z",
            "2026-02-30T09:00:00Z",
            "2026-11-27T09:00:00+0100",
            "2026-11-27T09:00:00+24:00",
            "2026-11-27T09Z",
            "tomorrow",
            "",
            "0001-01-01T00:30:00+01:00",
            1764234000,
            True,
        ],
    )
    def test_invalid_date_time(self, value: object) -> None:
        assert errors_of(one_field(type="date-time"), {"value": value}) == {"value": [DATE_TIME_ERROR]}

    def test_list_items_are_normalised(self) -> None:
        form = one_field(type="list", items="date-time")
        assert value_of(form, ["2026-11-27T10:00:00+01:00", "2026-11-27T09:00:00Z"]) == [
            "2026-11-27T09:00:00+00:00",
            "2026-11-27T09:00:00+00:00",
        ]


class TestOptions:
    @pytest.mark.parametrize(
        ("options", "value", "message"),
        [
            ({"type": "integer", "min": 1}, 0, "Must be at least 1."),
            ({"type": "integer", "max": 10}, 11, "Must be at most 10."),
            ({"type": "integer", "min": 1, "max": 10}, 11, "Must be between 1 and 10."),
            ({"type": "integer", "min": 1, "max": 10}, -5, "Must be between 1 and 10."),
            ({"type": "number", "min": 0.5}, 0.25, "Must be at least 0.5."),
            ({"type": "number", "max": 2}, 2.01, "Must be at most 2."),
            ({"type": "string", "min_length": 3}, "ab", "Must be at least 3 characters long."),
            ({"type": "text", "max_length": 3}, "abcd", "Must be at most 3 characters long."),
            (
                {"type": "string", "min_length": 2, "max_length": 3},
                "a",
                "Must be between 2 and 3 characters long.",
            ),
            (
                {"type": "string", "pattern": "[A-Z]{3}-[0-9]+"},
                "CHG-12x",
                "Must match the pattern [A-Z]{3}-[0-9]+.",
            ),
            ({"type": "string", "pattern": "[0-9]+"}, "a1", "Must match the pattern [0-9]+."),
            ({"type": "string", "pattern": "a|b"}, "ab", "Must match the pattern a|b."),
        ],
    )
    def test_value_outside_the_option_is_rejected(
        self, options: dict[str, Any], value: object, message: str
    ) -> None:
        assert errors_of(one_field(**options), {"value": value}) == {"value": [message]}

    @pytest.mark.parametrize(
        ("options", "value"),
        [
            ({"type": "integer", "min": 1, "max": 10}, 1),
            ({"type": "integer", "min": 1, "max": 10}, 10),
            ({"type": "number", "min": 0.5, "max": 2}, 0.5),
            ({"type": "number", "min": 0.5, "max": 2}, 2),
            ({"type": "string", "min_length": 2, "max_length": 3}, "ab"),
            ({"type": "string", "min_length": 2, "max_length": 3}, "abc"),
            ({"type": "string", "pattern": "[A-Z]{3}-[0-9]+"}, "CHG-12"),
            ({"type": "string", "pattern": "a|b"}, "b"),
        ],
    )
    def test_bounds_are_inclusive(self, options: dict[str, Any], value: object) -> None:
        assert value_of(one_field(**options), value) == value

    def test_several_messages_for_one_field(self) -> None:
        form = one_field(type="string", required=True, min_length=2, pattern="[a-z]+")
        assert errors_of(form, {"value": " "}) == {
            "value": [
                "Must not be blank.",
                "Must be at least 2 characters long.",
                "Must match the pattern [a-z]+.",
            ]
        }


class TestLists:
    def test_item_errors_name_the_item(self) -> None:
        form = one_field(type="list", items="integer")
        assert errors_of(form, {"value": [1, "2", 3, 4.5, None]}) == {
            "value": [
                "Item 2: Not a valid integer.",
                "Item 4: Not a valid integer.",
                "Item 5: Not a valid integer.",
            ]
        }

    def test_item_choices(self) -> None:
        form = one_field(type="list", items="enum", choices=["eu", "us"])
        assert errors_of(form, {"value": ["eu", "asia"]}) == {"value": ["Item 2: Must be one of: eu, us."]}

    def test_item_pattern_and_length(self) -> None:
        form = one_field(type="list", items="string", pattern="[a-z]+", max_length=3)
        assert errors_of(form, {"value": ["ok", "ABCD", "abcd"]}) == {
            "value": [
                "Item 2: Must be at most 3 characters long.",
                "Item 2: Must match the pattern [a-z]+.",
                "Item 3: Must be at most 3 characters long.",
            ]
        }

    def test_item_dates(self) -> None:
        form = one_field(type="list", items="date")
        assert errors_of(form, {"value": ["2026-11-27", "2026-13-01"]}) == {
            "value": ["Item 2: Not a valid date. Use YYYY-MM-DD, for example 2026-11-27."]
        }

    @pytest.mark.parametrize(
        ("options", "value", "message"),
        [
            ({"min_items": 2}, ["a"], "Must have at least 2 items."),
            ({"min_items": 1}, [], "Must have at least 1 item."),
            ({"max_items": 1}, ["a", "b"], "Must have at most 1 item."),
            ({"max_items": 2}, ["a", "b", "c"], "Must have at most 2 items."),
        ],
    )
    def test_item_count(self, options: dict[str, Any], value: list[str], message: str) -> None:
        form = one_field(type="list", items="string", **options)
        assert errors_of(form, {"value": value}) == {"value": [message]}

    def test_item_count_bounds_are_inclusive(self) -> None:
        form = one_field(type="list", items="string", min_items=1, max_items=2)
        assert value_of(form, ["a"]) == ["a"]
        assert value_of(form, ["a", "b"]) == ["a", "b"]

    def test_count_and_item_errors_together(self) -> None:
        form = one_field(type="list", items="boolean", max_items=1)
        assert errors_of(form, {"value": [True, "no"]}) == {
            "value": ["Item 2: Not a valid boolean.", "Must have at most 1 item."]
        }

    def test_result_is_a_new_list(self) -> None:
        submitted = ["a", "b"]
        result = value_of(one_field(type="list", items="string"), submitted)
        assert result == submitted
        assert result is not submitted


class TestShapeOfSubmission:
    @pytest.mark.parametrize("data", [["value"], "value", 5, None, True, ("value",)])
    def test_non_object_is_rejected(self, data: object) -> None:
        assert errors_of(one_field(type="string"), data) == {"_schema": ["Expected a JSON object."]}

    def test_unknown_fields_are_rejected(self) -> None:
        form = one_field(type="string")
        assert errors_of(form, {"value": "x", "extra": 1, "Value": "y"}) == {
            "extra": ["Unknown field."],
            "Value": ["Unknown field."],
        }

    def test_every_problem_is_reported_at_once(self) -> None:
        form = make_form(
            {"name": "title", "type": "string", "required": True},
            {"name": "count", "type": "integer"},
            {"name": "impact", "type": "enum", "choices": ["low", "high"]},
        )
        assert errors_of(form, {"count": "3", "impact": "medium", "colour": "red"}) == {
            "title": ["Missing data for required field."],
            "count": ["Not a valid integer."],
            "impact": ["Must be one of: low, high."],
            "colour": ["Unknown field."],
        }


class TestRequired:
    @pytest.mark.parametrize(
        "options",
        [
            {"type": "string"},
            {"type": "integer"},
            {"type": "boolean"},
            {"type": "enum", "choices": ["a"]},
            {"type": "date-time"},
            {"type": "list", "items": "string"},
        ],
    )
    @pytest.mark.parametrize("data", [{}, {"value": None}], ids=["missing", "null"])
    def test_required_field_must_be_given(self, options: dict[str, Any], data: dict[str, Any]) -> None:
        form = one_field(required=True, **options)
        assert errors_of(form, data) == {"value": ["Missing data for required field."]}

    @pytest.mark.parametrize("field_type", ["string", "text"])
    @pytest.mark.parametrize("value", ["", " ", "\n\t "])
    def test_required_text_must_not_be_blank(self, field_type: str, value: str) -> None:
        assert errors_of(one_field(type=field_type, required=True), {"value": value}) == {
            "value": ["Must not be blank."]
        }

    def test_optional_text_may_be_blank(self) -> None:
        assert value_of(one_field(type="string"), " ") == " "

    def test_required_false_value_is_accepted(self) -> None:
        assert value_of(one_field(type="boolean", required=True), False) is False
        assert value_of(one_field(type="integer", required=True), 0) == 0

    def test_empty_list_counts_as_given(self) -> None:
        assert value_of(one_field(type="list", items="string", required=True), []) == []


class TestRequiredIf:
    @pytest.fixture
    def form(self) -> FormDefinition:
        return make_form(
            {"name": "decision", "type": "enum", "choices": ["approve", "rework", "reject"]},
            {
                "name": "reason",
                "type": "text",
                "required_if": {"field": "decision", "in": ["rework", "reject"]},
            },
        )

    @pytest.mark.parametrize("reason", [None, "", "  "], ids=["null", "empty", "blank"])
    def test_required_when_the_other_field_matches(self, form: FormDefinition, reason: str | None) -> None:
        assert errors_of(form, {"decision": "reject", "reason": reason}) == {
            "reason": ["Required when Decision is reject."]
        }

    def test_required_when_missing(self, form: FormDefinition) -> None:
        assert errors_of(form, {"decision": "rework"}) == {"reason": ["Required when Decision is rework."]}

    def test_given_when_required(self, form: FormDefinition) -> None:
        assert validate_submission(form, {"decision": "rework", "reason": "typo"}) == {
            "decision": "rework",
            "reason": "typo",
        }

    @pytest.mark.parametrize("data", [{"decision": "approve"}, {}, {"decision": None}])
    def test_optional_otherwise(self, form: FormDefinition, data: dict[str, Any]) -> None:
        assert validate_submission(form, data)["reason"] is None

    def test_invalid_other_field_does_not_trigger_it(self, form: FormDefinition) -> None:
        assert errors_of(form, {"decision": "maybe"}) == {
            "decision": ["Must be one of: approve, rework, reject."]
        }

    def test_own_type_error_is_not_doubled(self, form: FormDefinition) -> None:
        assert errors_of(form, {"decision": "rework", "reason": 5}) == {"reason": ["Not a valid string."]}

    def test_default_of_the_other_field_counts(self) -> None:
        form = make_form(
            {"name": "urgent", "type": "boolean", "default": True},
            {"name": "why", "type": "string", "required_if": {"field": "urgent", "in": [True]}},
        )
        assert errors_of(form, {}) == {"why": ["Required when Urgent is true."]}
        assert validate_submission(form, {"urgent": False}) == {"urgent": False, "why": None}

    def test_date_time_values_are_compared_normalised(self) -> None:
        form = make_form(
            {"name": "slot", "type": "date-time"},
            {
                "name": "note",
                "type": "string",
                "required_if": {"field": "slot", "in": ["2026-11-27T10:00:00+01:00"]},
            },
        )
        assert errors_of(form, {"slot": "2026-11-27T09:00:00Z"}) == {
            "note": ["Required when Slot is 2026-11-27T09:00:00+00:00."]
        }

    def test_integer_values(self) -> None:
        form = make_form(
            {"name": "level", "type": "integer"},
            {"name": "note", "type": "string", "required_if": {"field": "level", "in": [3, 4]}},
        )
        assert errors_of(form, {"level": 4}) == {"note": ["Required when Level is 4."]}
        assert validate_submission(form, {"level": 2}) == {"level": 2, "note": None}


class TestAfter:
    @pytest.fixture
    def form(self) -> FormDefinition:
        return make_form(
            {"name": "planned_start", "type": "date-time", "label": "Planned start"},
            {"name": "planned_end", "type": "date-time", "label": "Planned end", "after": "planned_start"},
        )

    def test_later_value_is_accepted(self, form: FormDefinition) -> None:
        result = validate_submission(
            form, {"planned_start": "2026-11-27T09:00:00+01:00", "planned_end": "2026-11-27T08:00:01Z"}
        )
        assert result == {
            "planned_start": "2026-11-27T08:00:00+00:00",
            "planned_end": "2026-11-27T08:00:01+00:00",
        }

    @pytest.mark.parametrize(
        "end",
        [
            "2026-11-27T08:00:00Z",
            "2026-11-27T09:00:00+01:00",
            "2026-11-27T07:59:59.999999Z",
            "2025-01-01T00:00:00Z",
        ],
    )
    def test_same_or_earlier_value_is_rejected(self, form: FormDefinition, end: str) -> None:
        assert errors_of(form, {"planned_start": "2026-11-27T09:00:00+01:00", "planned_end": end}) == {
            "planned_end": ["Must be after Planned start."]
        }

    def test_microseconds_count(self, form: FormDefinition) -> None:
        result = validate_submission(
            form, {"planned_start": "2026-11-27T08:00:00Z", "planned_end": "2026-11-27T08:00:00.000001Z"}
        )
        assert result["planned_end"] == "2026-11-27T08:00:00.000001+00:00"

    @pytest.mark.parametrize(
        "data",
        [{"planned_end": "2020-01-01T00:00:00Z"}, {"planned_start": "2030-01-01T00:00:00Z"}, {}],
    )
    def test_not_checked_when_a_value_is_missing(self, form: FormDefinition, data: dict[str, Any]) -> None:
        validate_submission(form, data)

    def test_not_checked_when_the_other_value_is_invalid(self, form: FormDefinition) -> None:
        assert errors_of(form, {"planned_start": "soon", "planned_end": "2026-11-27T08:00:00Z"}) == {
            "planned_start": [DATE_TIME_ERROR]
        }

    def test_dates(self) -> None:
        form = make_form(
            {"name": "first_day", "type": "date"},
            {"name": "last_day", "type": "date", "after": "first_day"},
        )
        assert validate_submission(form, {"first_day": "2026-11-27", "last_day": "2026-11-28"})[
            "last_day"
        ] == ("2026-11-28")
        assert errors_of(form, {"first_day": "2026-11-27", "last_day": "2026-11-27"}) == {
            "last_day": ["Must be after First day."]
        }

    def test_default_of_the_other_field_counts(self) -> None:
        form = make_form(
            {"name": "first_day", "type": "date", "default": "2026-11-27"},
            {"name": "last_day", "type": "date", "after": "first_day"},
        )
        assert errors_of(form, {"last_day": "2026-11-01"}) == {"last_day": ["Must be after First day."]}


class TestOutput:
    @pytest.fixture
    def form(self) -> FormDefinition:
        return make_form(
            {"name": "title", "type": "string", "required": True},
            {"name": "count", "type": "integer", "default": 3},
            {"name": "note", "type": "text"},
            {"name": "tags", "type": "list", "items": "string", "default": ["a"]},
            {"name": "at", "type": "date-time", "default": "2026-11-27T10:00:00+01:00"},
            {"name": "flag", "type": "boolean"},
        )

    def test_every_field_is_filled(self, form: FormDefinition) -> None:
        assert validate_submission(form, {"title": "T"}) == {
            "title": "T",
            "count": 3,
            "note": None,
            "tags": ["a"],
            "at": "2026-11-27T09:00:00+00:00",
            "flag": None,
        }

    def test_fields_are_in_form_order(self, form: FormDefinition) -> None:
        result = validate_submission(form, {"flag": True, "count": 1, "title": "T"})
        assert list(result) == list(form.field_names)

    def test_null_means_no_value(self, form: FormDefinition) -> None:
        result = validate_submission(form, {"title": "T", "count": None, "note": None, "tags": None})
        assert (result["count"], result["note"], result["tags"]) == (3, None, ["a"])

    def test_submitted_value_beats_default(self, form: FormDefinition) -> None:
        result = validate_submission(form, {"title": "T", "count": 0, "tags": []})
        assert (result["count"], result["tags"]) == (0, [])

    def test_result_is_a_new_dict_and_input_is_unchanged(self, form: FormDefinition) -> None:
        data = {"title": "T", "at": "2026-11-27T10:00:00+01:00", "tags": ["x"]}
        original = copy.deepcopy(data)
        result = validate_submission(form, data)
        assert result is not data
        assert data == original

    def test_list_default_is_not_shared(self, form: FormDefinition) -> None:
        first = validate_submission(form, {"title": "T"})
        first["tags"].append("changed")
        assert validate_submission(form, {"title": "T"})["tags"] == ["a"]
        assert form.fields[3].default == ("a",)


class TestSchemaCache:
    def test_schema_is_built_once_per_form(self, monkeypatch: pytest.MonkeyPatch) -> None:
        built: list[FormDefinition] = []
        real_build = forms.validation.build_schema

        def counting_build(form: FormDefinition) -> Any:
            built.append(form)
            return real_build(form)

        monkeypatch.setattr(forms.validation, "build_schema", counting_build)
        monkeypatch.setattr(forms.validation, "_SCHEMAS", {})
        form = one_field(type="string")
        equal_form = one_field(type="string")
        for _ in range(3):
            validate_submission(form, {"value": "x"})
        validate_submission(equal_form, {"value": "y"})
        assert built == [form]
        validate_submission(one_field(type="integer"), {"value": 1})
        assert len(built) == 2

    def test_field_names_that_clash_with_schema_attributes(self) -> None:
        # The generated schema class must not let field names shadow marshmallow's own attributes.
        form = make_form(
            {"name": "load", "type": "string"},
            {"name": "fields", "type": "integer"},
            {"name": "validate", "type": "boolean"},
            {"name": "Meta", "type": "string"},
            {"name": "opts", "type": "string", "required": True},
        )
        assert validate_submission(form, {"load": "a", "fields": 1, "validate": True, "opts": "o"}) == {
            "load": "a",
            "fields": 1,
            "validate": True,
            "Meta": None,
            "opts": "o",
        }
        assert errors_of(form, {"fields": "x"}) == {
            "fields": ["Not a valid integer."],
            "opts": ["Missing data for required field."],
        }
