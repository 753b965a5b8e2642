"""Tests of to_json_schema: shape, validity as a JSON Schema, and agreement with validate_submission."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from forms import FormDefinition, FormValidationError, to_json_schema, validate_submission


def make_form(*fields: dict[str, Any], description: str | None = None) -> FormDefinition:
    """A form with ``fields``."""
    data: dict[str, Any] = {"title": "Test form", "fields": list(fields)}
    if description is not None:
        data["description"] = description
    return FormDefinition.from_dict("test/form", data)


def property_of(**field: Any) -> dict[str, Any]:
    """The JSON Schema property of a single field called ``value``."""
    return to_json_schema(make_form({"name": "value", **field}))["properties"]["value"]


@pytest.fixture
def request_form() -> FormDefinition:
    return make_form(
        {"name": "title", "type": "string", "label": "Title", "required": True, "max_length": 20},
        {"name": "details", "type": "text", "description": "What and why."},
        {"name": "impact", "type": "enum", "choices": ["low", "medium", "high"], "required": True},
        {"name": "effort", "type": "integer", "min": 1, "max": 10, "default": 2},
        {"name": "cost", "type": "number", "min": 0},
        {"name": "urgent", "type": "boolean"},
        {"name": "planned_start", "type": "date-time", "label": "Planned start"},
        {"name": "planned_end", "type": "date-time", "after": "planned_start"},
        {"name": "review_day", "type": "date"},
        {"name": "tags", "type": "list", "items": "string", "max_items": 3, "pattern": "[a-z]+"},
        {"name": "regions", "type": "list", "items": "enum", "choices": ["eu", "us"], "min_items": 1},
        {"name": "decision", "type": "enum", "choices": ["approve", "rework"]},
        {"name": "rework_reason", "type": "text", "required_if": {"field": "decision", "in": ["rework"]}},
        description="Describe the change.",
    )


class TestShape:
    def test_top_level(self, request_form: FormDefinition) -> None:
        schema = to_json_schema(request_form)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["type"] == "object"
        assert schema["title"] == "Test form"
        assert schema["description"] == "Describe the change."
        assert schema["required"] == ["title", "impact"]
        assert schema["additionalProperties"] is False
        assert schema["x-order"] == list(request_form.field_names)
        assert list(schema["properties"]) == list(request_form.field_names)

    def test_no_description_and_no_conditions(self) -> None:
        schema = to_json_schema(make_form({"name": "x", "type": "boolean"}))
        assert "description" not in schema
        assert "allOf" not in schema
        assert schema["required"] == []

    def test_is_a_valid_draft_2020_12_schema(self, request_form: FormDefinition) -> None:
        Draft202012Validator.check_schema(to_json_schema(request_form))

    @pytest.mark.parametrize(
        ("field", "expected"),
        [
            (
                {"type": "string", "label": "Title", "description": "Short.", "max_length": 20},
                {"title": "Title", "description": "Short.", "type": "string", "maxLength": 20},
            ),
            (
                {"type": "string", "required": True},
                {"title": "Value", "type": "string", "minLength": 1},
            ),
            (
                {"type": "string", "required": True, "min_length": 3, "pattern": "[a-z]+"},
                {"title": "Value", "type": "string", "minLength": 3, "pattern": "^(?:[a-z]+)$"},
            ),
            (
                {"type": "string", "min_length": 0},
                {"title": "Value", "type": "string", "minLength": 0},
            ),
            (
                {"type": "text", "max_length": 500},
                {"title": "Value", "type": "string", "maxLength": 500, "x-multiline": True},
            ),
            (
                {"type": "integer", "min": 1, "max": 5, "default": 2},
                {"title": "Value", "type": "integer", "minimum": 1, "maximum": 5, "default": 2},
            ),
            ({"type": "number", "min": 0.5}, {"title": "Value", "type": "number", "minimum": 0.5}),
            ({"type": "boolean", "default": False}, {"title": "Value", "type": "boolean", "default": False}),
            (
                {"type": "enum", "choices": ["low", "high"]},
                {"title": "Value", "type": "string", "enum": ["low", "high"]},
            ),
            ({"type": "date"}, {"title": "Value", "type": "string", "format": "date"}),
            ({"type": "date-time"}, {"title": "Value", "type": "string", "format": "date-time"}),
            (
                {"type": "list", "items": "string", "min_items": 1, "max_items": 4, "max_length": 8},
                {
                    "title": "Value",
                    "type": "array",
                    "items": {"type": "string", "maxLength": 8},
                    "minItems": 1,
                    "maxItems": 4,
                },
            ),
            (
                {"type": "list", "items": "string", "required": True},
                {"title": "Value", "type": "array", "items": {"type": "string"}},
            ),
            (
                {"type": "list", "items": "enum", "choices": ["eu", "us"], "default": ["eu"]},
                {
                    "title": "Value",
                    "type": "array",
                    "items": {"type": "string", "enum": ["eu", "us"]},
                    "default": ["eu"],
                },
            ),
            (
                {"type": "list", "items": "date-time"},
                {"title": "Value", "type": "array", "items": {"type": "string", "format": "date-time"}},
            ),
            (
                {"type": "list", "items": "integer"},
                {"title": "Value", "type": "array", "items": {"type": "integer"}},
            ),
        ],
    )
    def test_property(self, field: dict[str, Any], expected: dict[str, Any]) -> None:
        assert property_of(**field) == expected

    def test_after(self, request_form: FormDefinition) -> None:
        assert to_json_schema(request_form)["properties"]["planned_end"] == {
            "title": "Planned end",
            "description": "Must be after Planned start.",
            "type": "string",
            "format": "date-time",
            "x-after": "planned_start",
        }

    def test_after_sentence_follows_the_description(self) -> None:
        form = make_form(
            {"name": "start", "type": "date", "label": "Start"},
            {"name": "end", "type": "date", "description": "Last day.", "after": "start"},
        )
        assert to_json_schema(form)["properties"]["end"]["description"] == "Last day. Must be after Start."

    def test_required_if(self, request_form: FormDefinition) -> None:
        assert to_json_schema(request_form)["allOf"] == [
            {
                "if": {"properties": {"decision": {"enum": ["rework"]}}, "required": ["decision"]},
                "then": {"required": ["rework_reason"], "properties": {"rework_reason": {"minLength": 1}}},
            }
        ]

    def test_required_if_on_a_non_text_field(self) -> None:
        form = make_form(
            {"name": "urgent", "type": "boolean"},
            {"name": "deadline", "type": "date", "required_if": {"field": "urgent", "in": [True]}},
        )
        assert to_json_schema(form)["allOf"] == [
            {
                "if": {"properties": {"urgent": {"enum": [True]}}, "required": ["urgent"]},
                "then": {"required": ["deadline"]},
            }
        ]


class TestValues:
    def test_values_become_defaults(self, request_form: FormDefinition) -> None:
        schema = to_json_schema(
            request_form, {"title": "Old title", "effort": 7, "urgent": False, "other": 1}
        )
        properties = schema["properties"]
        assert properties["title"]["default"] == "Old title"
        assert properties["effort"]["default"] == 7
        assert properties["urgent"]["default"] is False
        assert "other" not in properties
        assert "default" not in properties["impact"]

    def test_none_keeps_the_declared_default(self, request_form: FormDefinition) -> None:
        schema = to_json_schema(request_form, {"effort": None, "cost": None})
        assert schema["properties"]["effort"]["default"] == 2
        assert "default" not in schema["properties"]["cost"]

    def test_declared_default_without_values(self, request_form: FormDefinition) -> None:
        assert to_json_schema(request_form)["properties"]["effort"]["default"] == 2

    def test_python_values_are_made_json(self) -> None:
        form = make_form(
            {"name": "day", "type": "date"},
            {"name": "at", "type": "date-time"},
            {"name": "naive_at", "type": "date-time"},
            {"name": "tags", "type": "list", "items": "string"},
        )
        values = {
            "day": date(2026, 11, 27),
            "at": datetime(2026, 11, 27, 10, 0, tzinfo=timezone(timedelta(hours=1))),
            "naive_at": datetime(2026, 11, 27, 9, 30),
            "tags": ("a", "b"),
        }
        properties = to_json_schema(form, values)["properties"]
        assert properties["day"]["default"] == "2026-11-27"
        assert properties["at"]["default"] == "2026-11-27T09:00:00+00:00"
        assert properties["naive_at"]["default"] == "2026-11-27T09:30:00+00:00"
        assert properties["tags"]["default"] == ["a", "b"]

    def test_values_from_a_validated_submission_are_accepted_again(
        self, request_form: FormDefinition
    ) -> None:
        stored = validate_submission(request_form, {"title": "T", "impact": "low", "tags": ["a"]})
        schema = to_json_schema(request_form, stored)
        defaults = {name: prop["default"] for name, prop in schema["properties"].items() if "default" in prop}
        assert defaults == {"title": "T", "impact": "low", "effort": 2, "tags": ["a"]}
        assert validate_submission(request_form, defaults) == stored
        Draft202012Validator(schema).validate(defaults)


VALID_SUBMISSIONS: list[dict[str, Any]] = [
    {"title": "Patch", "impact": "low"},
    {
        "title": "Upgrade",
        "details": "Line one\nline two",
        "impact": "high",
        "effort": 10,
        "cost": 12.5,
        "urgent": True,
        "planned_start": "2026-11-27T09:00:00+01:00",
        "planned_end": "2026-11-27T10:00:00Z",
        "review_day": "2026-12-01",
        "tags": ["db", "os"],
        "regions": ["eu"],
        "decision": "rework",
        "rework_reason": "Missing plan",
    },
    {"title": "X", "impact": "medium", "decision": "approve"},
]

# Submissions that validate_submission and the JSON Schema both reject.
INVALID_SUBMISSIONS: list[dict[str, Any]] = [
    {"impact": "low"},
    {"title": "", "impact": "low"},
    {"title": "T", "impact": "urgent"},
    {"title": "T", "impact": "low", "colour": "red"},
    {"title": "T" * 21, "impact": "low"},
    {"title": "T", "impact": "low", "effort": 11},
    {"title": "T", "impact": "low", "effort": "2"},
    {"title": "T", "impact": "low", "cost": -1},
    {"title": "T", "impact": "low", "urgent": "yes"},
    {"title": "T", "impact": "low", "tags": ["a", "b", "c", "d"]},
    {"title": "T", "impact": "low", "tags": ["ok", "NOT"]},
    {"title": "T", "impact": "low", "tags": ["a1"]},
    {"title": "T", "impact": "low", "regions": []},
    {"title": "T", "impact": "low", "regions": ["asia"]},
    {"title": "T", "impact": "low", "decision": "rework"},
    {"title": "T", "impact": "low", "decision": "rework", "rework_reason": ""},
]


class TestAgreementWithValidation:
    @pytest.mark.parametrize("data", VALID_SUBMISSIONS)
    def test_valid_submission_validates_against_the_schema(
        self, request_form: FormDefinition, data: dict[str, Any]
    ) -> None:
        validate_submission(request_form, data)
        Draft202012Validator(to_json_schema(request_form)).validate(data)

    @pytest.mark.parametrize("data", INVALID_SUBMISSIONS)
    def test_invalid_submission_fails_both(self, request_form: FormDefinition, data: dict[str, Any]) -> None:
        with pytest.raises(FormValidationError):
            validate_submission(request_form, data)
        validator = Draft202012Validator(to_json_schema(request_form))
        assert not validator.is_valid(data)

    def test_date_formats_are_checked_with_a_format_checker(self, request_form: FormDefinition) -> None:
        schema = to_json_schema(request_form)
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        assert validator.is_valid({"title": "T", "impact": "low", "review_day": "2026-11-27"})
        assert not validator.is_valid({"title": "T", "impact": "low", "review_day": "27/11/2026"})
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        assert validator.is_valid({"title": "T", "impact": "low", "planned_start": now})
