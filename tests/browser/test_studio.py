"""The process-owner studio in a real browser (issue 12).

An owner opens normal_change in the modeler, drops a user task on a flow in the manager lane, gives it a new
form, checks it (the problem is pinned on the element), fixes it and deploys version 2 with a comment. A new
change then runs on version 2 and reaches the new task with its new form; a change started before stays on
version 1. And the four shipped diagrams, opened and saved unchanged, are the same documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

from tests.browser.conftest import LiveApp, screenshot

pytestmark = pytest.mark.browser
expect: Any = None

NEXT_MONTH = datetime.now(UTC) + timedelta(days=30)
REQUEST = {"title": "Patch the mail relays", "description": "Security patch.", "affected_service": "mail",
           "category": "infrastructure", "impact": "medium", "likelihood": "low",
           # the live server runs on the real clock: a window a month ahead, whatever the day
           "planned_start": f"{NEXT_MONTH:%Y-%m-%d}T09:00:00Z", "planned_end": f"{NEXT_MONTH:%Y-%m-%d}T10:00:00Z",
           "implementation_plan": "One relay at a time.", "backout_plan": "Reinstall.", "test_plan": "Send mail."}
CAB_FORM = {"title": "CAB review", "description": "The change advisory board's view.", "fields": [
    {"name": "cab_decision", "type": "enum", "label": "CAB decision", "choices": ["go", "no_go"], "required": True},
    {"name": "cab_comment", "type": "text", "label": "CAB comment"}]}
SHIPPED = ("normal_change", "standard_change", "emergency_change", "release")


@pytest.fixture(autouse=True)
def _expect(chromium: Any) -> Iterator[None]:
    """Playwright's expect, waiting up to 30 s: bpmn-js parses and draws for seconds on a busy 2-core machine."""
    global expect
    from playwright.sync_api import expect as playwright_expect

    expect = playwright_expect
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the other modules


def sign_in(page: Any, live: LiveApp, username: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(live.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My work")


def open_modeler(page: Any, key: str) -> None:
    page.goto(f"/studio/{key}")
    expect(page.locator(".studio")).to_have_attribute("data-ready", "true")


def click_element(page: Any, element_id: str) -> None:
    """Click an element of the diagram where it is drawn, as a person would (unless it is selected already:
    a click on the selected element unselects it)."""
    if page.locator(".studio-panel").get_attribute("data-element") == element_id:
        return
    page.locator(".studio-canvas").scroll_into_view_if_needed()
    x, y = page.evaluate("""(id) => { const modeler = window.changeflowStudio.modeler, canvas = modeler.get('canvas');
        const element = modeler.get('elementRegistry').get(id), outer = canvas.viewbox().outer;
        const middle = {x: element.x + element.width / 2, y: element.y + element.height / 2};
        canvas.viewbox({x: middle.x - outer.width / 2, y: middle.y - outer.height / 2,
                        width: outer.width, height: outer.height});  // in the middle, clear of the palette
        const box = canvas.viewbox(), rect = canvas.getContainer().getBoundingClientRect();
        return [rect.left + (middle.x - box.x) * box.scale, rect.top + (middle.y - box.y) * box.scale]; }""",
                         element_id)
    page.mouse.click(x, y)


def start_change(live: LiveApp) -> dict[str, Any]:
    return live.api("POST", "/instances", "change-practitioner", json={"process": "normal_change", "data": REQUEST})


def open_tasks(live: LiveApp, instance_id: int) -> list[dict[str, Any]]:
    return live.api("GET", f"/tasks?instance={instance_id}&scope=all", "admin")


def assess(live: LiveApp, instance_id: int) -> None:
    task = next(t for t in open_tasks(live, instance_id) if t["element_id"] == "assess_change")
    live.api("POST", f"/tasks/{task['id']}/complete", "change-manager",
             json={"data": {"assessment_decision": "accept"}})


def canonical(xml: str) -> bytes:
    """The document in canonical XML (C14N), ignoring whitespace between elements."""
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(xml.encode(), parser), method="c14n")


def test_an_owner_adds_a_task_with_a_new_form_checks_fixes_and_deploys_version_2(live, new_page):
    older = start_change(live)
    v1 = older["version"]  # the latest version when this test starts (1, unless another test deployed first)
    v2 = v1 + 1
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live, "change-owner")
    page.get_by_role("link", name="Studio").click()
    page.get_by_role("link", name="Open Normal change in the modeler").click()
    expect(page.locator(".studio")).to_have_attribute("data-ready", "true")

    # Drop a new task on the flow from the accepted assessment to the risk gateway, in the manager lane: bpmn-js
    # splits the flow. (At full size first, as a person would zoom in to work there.)
    target = page.evaluate("""() => { const modeler = window.changeflowStudio.modeler, canvas = modeler.get('canvas');
        const [a, b] = modeler.get('elementRegistry').get('flow_assessment_accept').waypoints.slice(-2);
        const middle = {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2}, outer = canvas.viewbox().outer;
        canvas.viewbox({x: middle.x - outer.width / 2, y: middle.y - outer.height / 2,
                        width: outer.width, height: outer.height});
        const box = canvas.viewbox(), rect = canvas.getContainer().getBoundingClientRect();
        return [rect.left + (middle.x - box.x) * box.scale, rect.top + (middle.y - box.y) * box.scale]; }""")
    page.locator(".djs-palette .entry.bpmn-icon-task").click()
    page.mouse.move(target[0] - 30, target[1] - 30)
    page.mouse.move(*target, steps=10)
    page.mouse.click(*target)
    panel = page.locator(".studio-panel")
    expect(panel).to_contain_text("Task ·")
    # Make it a user task with the context pad's "change type".
    page.locator(".djs-context-pad .entry[data-action=replace]").click()
    page.locator("[data-id=replace-with-user-task]").click()
    expect(panel).to_contain_text("UserTask ·")
    task_id = panel.get_attribute("data-element")
    expect(panel.locator(".lane-role")).to_contain_text("Process Manager → role manager")

    panel.get_by_label("Name").fill("CAB review")
    panel.get_by_label("Name").press("Enter")
    # A new form: its key is asked for, then the form editor opens with a live preview.
    page.once("dialog", lambda dialog: dialog.accept("change/cab_review"))
    panel.get_by_label("Form").select_option("__new__")
    editor = page.locator(".form-editor")
    expect(editor).to_be_visible()
    editor.get_by_label("Definition (JSON: title, description, fields)").fill(json.dumps(CAB_FORM, indent=2))
    expect(editor.locator(".form-preview")).to_contain_text("CAB decision")
    expect(editor).to_have_attribute("data-previewed", "change/cab_review")
    expect(editor.locator(".form-preview select[name=cab_decision]")).to_be_visible()
    # The assessor may not also review: separation of duties, picked from the tasks.
    click_element(page, task_id)
    panel.get_by_label("Assess change (assess_change)").check()
    panel.get_by_label("Due in").fill("2 days")  # a mistake: not ISO 8601
    panel.get_by_label("Due in").press("Enter")

    page.get_by_role("button", name="Check").click()
    problem = page.locator(f".studio-problems li.studio-problem[data-element-id={task_id}]")
    expect(problem).to_contain_text("dueIn")
    expect(page.locator(f"g.djs-shape.cf-problem[data-element-id={task_id}]")).to_have_count(1)
    expect(page.locator(f".cf-problem-badge[data-element-id={task_id}]")).to_have_text("1")
    screenshot(page, "studio-problem")
    click_element(page, "assess_change")
    expect(panel).to_have_attribute("data-element", "assess_change")
    problem.get_by_role("button").click()  # clicking the problem selects its element
    expect(panel).to_have_attribute("data-element", task_id)

    panel.get_by_label("Due in").fill("P2D")
    panel.get_by_label("Due in").press("Enter")
    expect(panel).to_contain_text("P2D is 2 days.")
    page.get_by_role("button", name="Check").click()
    expect(page.locator(".studio-status")).to_have_text("No problems.")
    expect(page.locator(".cf-problem")).to_have_count(0)

    page.get_by_label("Comment for this version").fill("CAB review before the decision")
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator(".studio")).to_have_attribute("data-deployed", str(v2))
    expect(page.locator(".studio-status")).to_have_text(f"Deployed as version {v2}.")
    screenshot(page, "studio")

    version = live.api("GET", "/process-models/normal_change/versions", "admin")[0]
    assert (version["version"], version["deployed_by"], version["comment"]) == (
        v2, "change-owner", "CAB review before the decision")
    assert "change/cab_review" in version["forms"]
    detail = live.api("GET", f"/process-models/normal_change/versions/{v2}", "admin")
    assert '<spiffworkflow:property name="separationOfDuties" value="assess_change"' in detail["bpmn"]
    assert '<spiffworkflow:property name="dueIn" value="P2D"' in detail["bpmn"]

    # A new change runs on version 2: after the assessment, the manager's CAB review with the new form.
    newer = start_change(live)
    assert newer["version"] == v2
    assess(live, newer["id"])
    review = next(t for t in open_tasks(live, newer["id"]) if t["element_id"] == task_id)
    assert review["title"] == "CAB review" and review["role"] == "manager"
    schema = live.api("GET", f"/tasks/{review['id']}", "change-manager")["form"]
    assert schema["key"] == "change/cab_review" and "cab_decision" in schema["schema"]["properties"]
    # The manager assessed this change, so separation of duties bars them from its CAB review ...
    manager = new_page()
    sign_in(manager, live, "change-manager")
    manager.goto(f"/tasks/{review['id']}")
    expect(manager.locator(".refusal")).to_contain_text("You may not complete this task.")
    # ... and another manager sees the new form on the task page and completes it.
    live.api("POST", "/role-assignments", "admin", json={"user": "change-owner", "role": "manager",
                                                         "practice": "change"})
    page.goto(f"/tasks/{review['id']}")
    page.get_by_label("CAB decision").select_option("go")
    page.get_by_label("CAB comment").fill("Fine by the board.")
    page.get_by_role("button", name="Complete task").click()
    expect(page.locator(".flash").first).to_be_visible()
    data = live.api("GET", f"/instances/{newer['id']}", "admin")["data"]
    assert (data["cab_decision"], data["cab_comment"]) == ("go", "Fine by the board.")

    assert errors == []  # no script error on the studio's page

    # The change started before the deploy stays on version 1: no CAB review after its assessment.
    assert live.api("GET", f"/instances/{older['id']}", "admin")["version"] == v1
    assess(live, older["id"])
    assert task_id not in {t["element_id"] for t in open_tasks(live, older["id"])}
    assert "authorize_change" in {t["element_id"] for t in open_tasks(live, older["id"])}


@pytest.mark.parametrize("key", SHIPPED)
def test_a_shipped_diagram_opened_and_saved_unchanged_is_the_same_document(live, new_page, key):
    page = new_page()
    sign_in(page, live, "release-owner" if key == "release" else "change-owner")
    open_modeler(page, key)
    versions = live.api("GET", f"/process-models/{key}/versions", "admin")
    deployed = live.api("GET", f"/process-models/{key}/versions/{versions[0]['version']}", "admin")["bpmn"]

    saved = page.evaluate("window.changeflowStudio.xml()")

    assert canonical(saved) == canonical(deployed)


# bpmn-js writes attributes in its own order and ' />' for empty elements: the version's identity is its canonical
# XML (C14N), so the re-save is the same version.
@pytest.mark.parametrize("key", SHIPPED)
def test_a_shipped_diagram_opened_and_saved_unchanged_deploys_as_the_same_version(live, new_page, key):
    page = new_page()
    sign_in(page, live, "release-owner" if key == "release" else "change-owner")
    open_modeler(page, key)
    before = live.api("GET", f"/process-models/{key}/versions", "admin")[0]["version"]

    page.get_by_role("button", name="Deploy").click()

    expect(page.locator(".studio")).to_have_attribute("data-deployed", str(before))
    assert live.api("GET", f"/process-models/{key}/versions", "admin")[0]["version"] == before


def test_the_risk_table_is_edited_with_dmn_js_and_deployed_with_a_version(live, new_page):
    page = new_page()
    sign_in(page, live, "change-owner")
    open_modeler(page, "emergency_change")
    expect(page.locator(".decision-editor")).to_contain_text("has no decision tables")

    open_modeler(page, "normal_change")
    page.get_by_role("button", name="Open the decision tables").click()
    editor = page.locator(".decision-editor")
    expect(editor).to_have_attribute("data-ready", "true")
    expect(editor.locator(".tjs-table")).to_contain_text("Likelihood")
    # Row 1 says high impact with medium or high likelihood is high risk; make it medium.
    cell = editor.locator("tbody tr").first.locator("td.output-cell").first
    cell.click()
    page.keyboard.press("Control+a")
    page.keyboard.type('"medium"')
    editor.locator(".tjs-table th").first.click()  # leave the cell
    expect(editor).to_have_attribute("data-changed", re.compile(r"^\d+$"))
    page.get_by_label("Comment for this version").fill("High impact, likely: medium risk")
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator(".studio-status")).to_contain_text("Deployed as version")

    latest = live.api("GET", "/process-models/normal_change/versions", "admin")[0]
    decisions = live.api("GET", f"/process-models/normal_change/versions/{latest['version']}", "admin")["decisions"]
    assert decisions and "<text>\"medium\"</text>" in decisions[0].split("<rule")[1]
