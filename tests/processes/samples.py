"""Form data for the shipped processes, and recipes that bring a change to a given point.

The fake clock starts at 2026-01-05 09:00 UTC (``engine.FakeClock``). ``REQUEST`` plans its change a week
later, so it waits for its planned start once authorized. ``REQUEST_NOW`` plans it for the clock's start:
it is due by the time it is authorized, so its implementation opens at once; the paths that are about
something else than the wait use it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.processes.harness import ProcessRun

CLOCK_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PLANNED_START = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
PLANNED_END = datetime(2026, 1, 12, 13, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    """How the API gives date-times back: ISO 8601 in UTC with an explicit offset."""
    return moment.isoformat()


REQUEST: dict[str, Any] = {
    "title": "Upgrade the billing database to PostgreSQL 17",
    "description": "Move the billing database to the new major version.",
    "affected_service": "billing",
    "category": "database",
    "impact": "low",
    "likelihood": "low",
    "planned_start": "2026-01-12T09:00:00Z",
    "planned_end": "2026-01-12T13:00:00Z",
    "implementation_plan": "pg_upgrade on the replica, then switch over.",
    "backout_plan": "Switch back to the old primary.",
    "test_plan": "Run the billing smoke tests.",
}
REQUEST_NOW: dict[str, Any] = {**REQUEST, "planned_start": "2026-01-05T09:00:00Z",
                               "planned_end": "2026-01-05T13:00:00Z"}
HIGH_RISK_REQUEST: dict[str, Any] = {**REQUEST_NOW, "impact": "high", "likelihood": "medium"}

# What the requester sends back from "Rework request for change": the whole request, and a decision.
REWORK: dict[str, Any] = {**REQUEST_NOW, "rework_decision": "resubmit"}

STANDARD_REQUEST: dict[str, Any] = {
    "standard_model": "server_patching",
    "title": "Monthly patching of the billing servers",
    "affected_service": "billing",
    "planned_start": "2026-01-12T09:00:00Z",
    "planned_end": "2026-01-12T11:00:00Z",
    "notes": "January patch set.",
}
STANDARD_REQUEST_NOW: dict[str, Any] = {**STANDARD_REQUEST, "planned_start": "2026-01-05T09:00:00Z",
                                        "planned_end": "2026-01-05T11:00:00Z"}

EMERGENCY_REQUEST: dict[str, Any] = {
    "title": "Block the exploited login endpoint",
    "description": "Put a WAF rule in front of /login.",
    "affected_service": "customer portal",
    "category": "security",
    "incident_reference": "INC-004711",
    "justification": "The endpoint is being exploited right now.",
    "implementation_plan": "Deploy the WAF rule.",
    "backout_plan": "Remove the WAF rule.",
}


def release_plan(*change_keys: str, impact: str = "low") -> dict[str, Any]:
    """The "Plan release" form, linking the changes with these business keys."""
    return {
        "title": "Billing 4.2",
        "description": "The January billing release.",
        "change_keys": list(change_keys),
        "impact": impact,
        "planned_deployment": "2026-01-12T09:00:00Z",
    }


def authorized_normal_change(start: Any, data: dict[str, Any] | None = None) -> ProcessRun:
    """A normal change taken through assessment and authorization by the change manager."""
    change = start("normal_change", as_="change-practitioner", data=data or REQUEST)
    change.complete("assess_change", as_="change-manager", assessment_decision="accept")
    change.complete("authorize_change", as_="change-manager", authorization_decision="authorize")
    change.expect_data(authorized=True)
    return change
