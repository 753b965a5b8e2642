"""Junk to every page never makes a 5xx: odd paths, query strings and form fields, from several users."""

from __future__ import annotations

import re

import pytest

from tests.web.test_web_authorization import MATRIX

LONG = "x" * 5000
JUNK_PATH_VALUES = ["%00", "x" * 3000, "%C3%28", "..", "CHG-999999999999", "0", "-1", "abc"]
JUNK_QUERIES = ["page=0", "page=-5", "page=abc", "page=99999999999999999999", "sort=bogus", "role=wizard",
                "assigned=%00", "process=" + LONG, "status=bogus", "from=2026-13-45", "until=yesterday",
                "key=%00", "key=" + LONG, "requester=" + LONG, "task=%00", "next=%00"]
JUNK_FORMS = [{}, {"text": LONG * 2}, {"assessment_decision": ["accept", "reject"]}, {"username": "\x00"},
              {"role": "wizard", "practice": "\x00"}, {"planned_start": "2026-99-99T99:99", "impact": LONG},
              {"password": "x" * 5000}, {"confirm": "yes", "reason": LONG}, {"next": "http://evil.example"},
              {"current_password": "", "new_password": "\x00" * 20, "repeat_password": "\x00" * 20}]


@pytest.fixture
def targets(http, clock):
    change = http.start_change(clock)
    return {"task_id": change["tasks"][0]["id"], "business_key": change["business_key"], "key": "normal_change",
            "folder": "changes", "username": "nobody", "assignment_id": "1", "token_id": "1", "action": "suspend",
            "filename": "app.css", "name": "someone", "blackout_id": "1", "model_key": "normal_change", "number": "1",
            "notice_id": "1", "subscription_id": "1", "delivery_id": "1"}


PARAMETER = re.compile(r"<(?:[^<>]+:)?([^<>:]+)>")


def fill(rule: str, values: dict[str, str]) -> str:
    return PARAMETER.sub(lambda match: values[match.group(1)], rule)


@pytest.mark.usefixtures("shipped")
@pytest.mark.parametrize("row", MATRIX, ids=[row.id for row in MATRIX])
def test_junk_never_makes_a_5xx(browser, targets, row):
    failures = []
    for user in ("admin", "change-manager"):
        client = browser(user)
        paths = [fill(row.rule, targets)]
        for name in set(targets) & set(PARAMETER.findall(row.rule)):
            paths += [fill(row.rule, {**targets, name: junk}) for junk in JUNK_PATH_VALUES]
        for path in paths:
            if row.method == "GET":
                for query in ["", *JUNK_QUERIES]:
                    page = client.get(f"{path}?{query}")
                    if page.status >= 500:
                        failures.append(f"{page.status} {user} GET {path[:60]}?{query[:30]}")
            else:
                for form in JUNK_FORMS:
                    page = client.post(path, form)
                    if page.status >= 500:
                        failures.append(f"{page.status} {user} POST {path[:60]} {str(form)[:60]}")
            if row.rule == "/sign-out":  # signing out ends the session: sign in again for the next path
                client = browser(user)

    assert failures == []


@pytest.mark.usefixtures("shipped")
def test_a_nul_character_anywhere_is_a_400_page(browser, targets):
    manager = browser("change-manager")

    for page in (manager.get("/tasks/a%00b"), manager.get("/find?key=%00"),
                 manager.post(f"/records/{targets['business_key']}/notes", {"text": "a\x00b"})):
        assert page.status == 400 and "NUL character" in page.text
