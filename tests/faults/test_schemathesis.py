"""Schemathesis against the OpenAPI document, on SQLite and PostgreSQL: every 5xx fails.

Every operation of /api/openapi.json gets a bounded number of generated requests, valid (positive) and
invalid (negative) ones, each sent as the admin and as a user with no role, through the WSGI app. Every
answer must be below 500, and every error an RFC 7807 problem. The number of examples per operation and
mode is small (SCHEMATHESIS_EXAMPLES, 8) so that the fault tier stays within a minute or so per backend;
raise it for a longer hunt.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.errors import PROBLEM_JSON

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "8"))
USERS = ("admin", "nobody")

pytestmark = pytest.mark.usefixtures("shipped")


def test_no_generated_request_is_a_server_error(app, people):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: list[str] = []
    sent = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case):
                nonlocal sent
                for user in USERS:
                    response = case.call(headers={"Authorization": f"Bearer {people.tokens[user]}"})
                    sent += 1
                    content_type = _header(response.headers, "content-type")
                    if response.status_code >= 500 or (response.status_code >= 400
                                                       and not content_type.startswith(PROBLEM_JSON)):
                        failures.append(f"{response.status_code} as {user}: {case.as_curl_command()}\n"
                                        f"    {response.text[:300]}")

            try:
                send()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # an operation with nothing to get wrong

    assert sent > 100
    assert failures == [], "\n".join(failures[:20])


def _header(headers: dict, name: str) -> str:
    """A response header's value (schemathesis keeps each header as a list of values)."""
    for key, value in headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else str(value)
    return ""
