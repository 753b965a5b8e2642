"""Forms of user tasks and start events: definitions, validation of submissions, JSON Schema export."""

from __future__ import annotations

from forms.definition import FieldDefinition, FieldType, FormDefinition
from forms.errors import FormDefinitionError, FormValidationError
from forms.jsonschema import to_json_schema
from forms.registry import load_form_directory
from forms.validation import uses_choice_lists, validate_submission

__all__ = [
    "FieldDefinition",
    "FieldType",
    "FormDefinition",
    "FormDefinitionError",
    "FormValidationError",
    "load_form_directory",
    "to_json_schema",
    "uses_choice_lists",
    "validate_submission",
]
