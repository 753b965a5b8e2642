"""The CAB pages: the agenda, the chair's outcomes as one form post, and the owners' rules (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.support import rows

pytestmark = pytest.mark.usefixtures("shipped")


def at_the_cab(http: Any, clock: Any, **overrides: Any) -> dict[str, Any]:
    http.post("/api/role-assignments", "admin", {"user": "nobody", "role": "cab", "practice": "change"})
    instance = http.start_change(clock, impact="high", likelihood="high", **overrides)
    http.complete(http.open_task(instance["id"], "assess_change")["id"], "change-manager",
                  {"assessment_decision": "accept"})
    return instance


def test_the_agenda_shows_each_change_with_risk_service_window_and_votes(browser, http, clock):
    change = at_the_cab(http, clock, affected_service="payroll")

    page = browser("change-owner").get("/cab")

    assert page.status == 200
    assert change["business_key"] in page.text and "payroll" in page.text and "risk-high" in page.text
    assert "0 approve, 0 reject, 0 abstain" in page.text and "of 1 seats; quorum 2, any reject" in page.text
    assert 'name="outcome-' + change["business_key"] + '"' in page.text  # the owner chairs: the form is there
    assert ">CAB</a>" in page.text  # the navigation links the agenda


def test_a_cab_member_reads_the_agenda_but_records_nothing(browser, http, clock):
    change = at_the_cab(http, clock)  # 'nobody' is its CAB's member

    page = browser("nobody").get("/cab")

    assert page.status == 200 and change["business_key"] in page.text
    assert "Record outcomes" not in page.text


def test_the_chair_records_several_outcomes_in_one_post(app, browser, http, clock):
    approved, rejected, untouched = at_the_cab(http, clock), at_the_cab(http, clock), at_the_cab(http, clock)
    keys = [approved["business_key"], rejected["business_key"], untouched["business_key"]]
    chair = browser("change-manager")

    page = chair.post("/cab/decisions", {"business_key": keys, f"outcome-{keys[0]}": "approved",
                                         f"outcome-{keys[1]}": "rejected", f"comment-{keys[1]}": "Month end."})

    assert page.status == 302 and page.location == "/cab"
    agenda = chair.get("/cab")
    assert f"Recorded: {keys[0]} approved, {keys[1]} rejected." in agenda.flashes()
    assert f'data-business-key="{keys[2]}"' in agenda.text
    assert f'data-business-key="{keys[0]}"' not in agenda.text and f'data-business-key="{keys[1]}"' not in agenda.text
    assert http.get(f"/api/instances/{approved['id']}", "admin").get_json()["data"]["authorized"] is True


def test_a_refused_outcome_records_nothing_and_says_why(app, browser, http, clock):
    waiting = at_the_cab(http, clock)
    low_risk = http.start_change(clock)
    before = rows(app)

    page = browser("change-manager").post("/cab/decisions", {
        "business_key": [waiting["business_key"], low_risk["business_key"]],
        f"outcome-{waiting['business_key']}": "approved", f"outcome-{low_risk['business_key']}": "approved"})

    assert page.status == 409
    assert f"{low_risk['business_key']} is not awaiting the CAB" in page.text
    assert rows(app) == before


def test_a_practitioner_is_told_who_may_see_the_agenda(browser):
    page = browser("change-practitioner").get("/cab")
    assert page.status == 403 and "CAB members, managers and owners" in page.text
    assert ">CAB</a>" not in browser("change-practitioner").get("/").text


def test_the_owner_sets_a_rule_and_a_bad_one_is_refused_naming_the_field(app, browser):
    owner = browser("change-owner")
    assert 'aria-label="CAB rule of normal_change"' in owner.get("/cab/rules").text

    page = owner.post("/cab/rules/normal_change", {"quorum": "3", "decision_rule": "unanimous", "vote_hours": "12"})

    assert page.status == 302
    assert "now needs 3 votes, decides by unanimous" in " ".join(owner.get("/cab/rules").flashes())
    refused = owner.post("/cab/rules/normal_change", {"quorum": "x", "decision_rule": "unanimous", "vote_hours": "12"})
    assert refused.status == 422 and "quorum" in refused.text.lower()
    assert [r["quorum"] for r in rows(app, "cab_rule")["cab_rule"]] == [3]
    assert 'aria-label="CAB rule of normal_change"' not in browser("change-manager").get("/cab/rules").text


def test_the_practice_filter_offers_the_practices_whose_agenda_you_may_read(browser, http, clock):
    change = at_the_cab(http, clock)
    owner = browser("change-owner")  # owner of change only
    page = owner.get("/cab")
    assert '<option value="">All of yours</option>' in page.text
    assert '<option value="change" >change</option>' in page.text and '<option value="release"' not in page.text
    admin = browser("admin").get("/cab?practice=change")
    assert '<option value="change" selected>change</option>' in admin.text
    assert '<option value="release" >release</option>' in admin.text  # an admin reads every practice's agenda
    assert change["business_key"] in admin.text
    assert change["business_key"] not in browser("admin").get("/cab?practice=release").text
