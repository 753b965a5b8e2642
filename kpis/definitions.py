"""What the KPIs count, by practice: the metrics, what each means, and the diagram elements they read.

The element ids are those of the shipped diagrams; a practice's own diagrams count when they use the same ids
(an authorization task called ``authorize_*`` elsewhere is simply not an authorization here).
"""

from __future__ import annotations

CHANGE_TYPES = {"normal_change": "normal", "standard_change": "standard", "emergency_change": "emergency"}
AUTHORIZATION_ELEMENTS = ("authorize_change", "authorize_high_risk_change", "authorize_emergency_change", "cab_vote")
REWORK_ELEMENTS = ("rework_request_for_change",)
SUCCESSFUL = "successful"
BACKED_OUT = "backed_out"
ROLLED_BACK = "rolled_back"
DEPLOYED = "deployed"

POPULATION = "Every figure of a period is about the records closed (completed or cancelled) in it."

CHANGE_METRICS: dict[str, str] = {
    "closed": "Changes closed in the period.",
    "normal": "Normal changes closed.",
    "standard": "Standard changes closed.",
    "emergency": "Emergency changes closed.",
    "other": "Changes of other processes closed.",
    "standard_ratio": "Standard changes / changes closed.",
    "emergency_ratio": "Emergency changes / changes closed.",
    "implemented": "Changes with an implementation outcome.",
    "successful": "Changes whose implementation outcome was successful.",
    "success_rate": "Successful / implemented.",
    "backed_out": "Changes backed out (implementation outcome or closure code).",
    "rolled_back": "Changes whose release was rolled back (release outcome in the change's trail).",
    "authorized": "Changes authorized by a person (an authorization task completed, and authorized).",
    "authorization_lead_time_median_hours": "Median hours from request to the last authorization decision.",
    "authorization_lead_time_p90_hours": "90th percentile of the same.",
    "closure_lead_time_median_hours": "Median hours from request to closure.",
    "closure_lead_time_p90_hours": "90th percentile of the same.",
    "authorization_sla_breaches": "Changes with an authorization task completed after its due time.",
    "reworked": "Changes sent back for rework at least once.",
    "rework_rate": "Reworked / changes closed.",
}
RELEASE_METRICS: dict[str, str] = {
    "closed": "Releases closed in the period.",
    "deployed": "Releases closed as deployed.",
    "rolled_back": "Releases closed as rolled back.",
    "changes_per_release": "Changes linked per release closed (mean).",
    "closure_lead_time_median_hours": "Median hours from request to closure.",
    "closure_lead_time_p90_hours": "90th percentile of the same.",
}


def metrics_of(practice: str) -> dict[str, str]:
    """The metrics reported for a practice (change and release have their own; others get the common ones)."""
    if practice == "change":
        return CHANGE_METRICS
    if practice == "release":
        return RELEASE_METRICS
    return {name: RELEASE_METRICS[name] for name in ("closed", "closure_lead_time_median_hours",
                                                     "closure_lead_time_p90_hours")}
