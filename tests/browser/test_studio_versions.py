"""The studio's version pages in a real browser (issue 12): a migration dry run, then the move of one instance;
and a Camunda Modeler diagram whose camunda:formKey becomes the task's form (or a warning naming the task),
stored with a layout drawn at deploy so that the viewer draws it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveApp, screenshot
from tests.engine.test_migration import V1, V2

pytestmark = pytest.mark.browser
expect: Any = None

CAMUNDA = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn"
  exporter="Camunda Modeler" exporterVersion="5.31.0">
  <bpmn:process id="close_out" name="Close out" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"/>
    <bpmn:userTask id="Activity_close" name="Close the change" camunda:formKey="change/closure"
                   camunda:candidateGroups="practitioner"/>
    <bpmn:userTask id="Activity_review" name="Review" camunda:formKey="embedded:app:forms/review.html"
                   camunda:candidateGroups="manager"/>
    <bpmn:endEvent id="EndEvent_1"/>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Activity_close"/>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_close" targetRef="Activity_review"/>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Activity_review" targetRef="EndEvent_1"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture(autouse=True)
def _expect(chromium: Any) -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    expect = playwright_expect


def sign_in(page: Any, live: LiveApp, username: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(live.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My work")


def test_an_owner_runs_a_dry_run_then_moves_one_instance(live: LiveApp, new_page: Any) -> None:
    for bpmn in (V1, V2):
        live.api("POST", "/process-models/review_flow/versions", "change-owner",
                 json={"bpmn": bpmn, "practice": "change", "comment": "adds a check"})
    first, second = (live.api("POST", "/instances", "change-practitioner", json={"process": "review_flow",
                                                                                  "version": 1})
                     for _ in range(2))
    page = new_page()
    sign_in(page, live, "change-owner")

    page.goto("/studio/review_flow/versions")
    expect(page.locator("#version-1 td.running")).to_have_text("2")
    page.get_by_role("link", name="with version 1").click()
    expect(page.locator("li.change-added[data-element-id=check]")).to_be_visible()
    expect(page.locator("figure.diagram[data-ready=true]")).to_have_count(2)
    expect(page.locator(".djs-element.cf-active[data-element-id=check]")).to_have_count(1)
    screenshot(page, "studio-version-diff")

    page.get_by_role("link", name="Move instances between versions").click()
    page.get_by_label("From version").select_option("1")
    page.get_by_label("To version").select_option("2")
    page.get_by_role("button", name="Dry run").click()
    for instance in (first, second):
        row = page.locator(f"tr[data-business-key='{instance['business_key']}']")
        expect(row.locator("td.verdict")).to_have_text("yes")
        expect(row).to_contain_text("review (ready) → review")
    screenshot(page, "studio-migration-dry-run")
    assert live.api("GET", f"/instances/{first['id']}", "admin")["version"] == 1  # a dry run moves nothing

    page.get_by_label(f"Move {first['business_key']}").check()
    page.get_by_role("button", name="Move the ticked instances to version 2").click()

    expect(page.get_by_role("status")).to_contain_text(f"Moved to version 2: {first['business_key']}.")
    assert live.api("GET", f"/instances/{first['id']}", "admin")["version"] == 2
    assert live.api("GET", f"/instances/{second['id']}", "admin")["version"] == 1
    events = live.api("GET", f"/instances/{first['id']}/events", "admin")
    assert [e["actor"] for e in events if e["type"] == "version_changed"] == ["change-owner"]


def test_a_camunda_modeler_diagram_gets_its_form_mapped_or_a_warning(live: LiveApp, new_page: Any) -> None:
    deployed = live.api("POST", "/process-models/close_out/versions", "change-owner",
                        json={"bpmn": CAMUNDA, "practice": "change"})
    warnings = {w["element_id"]: w["message"] for w in deployed["warnings"]}
    assert warnings["Activity_close"].startswith("camunda:formKey 'change/closure' is used as the task's form")
    assert warnings["Activity_review"].startswith("camunda:formKey 'embedded:app:forms/review.html' is a Camunda "
                                                  "form reference")
    assert warnings[None].startswith("The diagram had no layout for")
    instance = live.api("POST", "/instances", "change-practitioner", json={"process": "close_out"})
    page = new_page()
    sign_in(page, live, "change-practitioner")

    page.goto(f"/tasks/{instance['tasks'][0]['id']}")
    expect(page.get_by_label("Closure code")).to_be_visible()  # the mapped form, rendered on the task page

    page.goto("/studio/close_out/versions?compare=1")
    expect(page.locator("figure.diagram[data-ready=true]")).to_have_count(1)  # the drawn layout opens
    expect(page.locator(".djs-element[data-element-id=Activity_close]")).to_have_count(1)
