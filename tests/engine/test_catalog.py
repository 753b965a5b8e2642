"""Deploying a folder of diagrams (what the app does at start-up and ``flask deploy`` on demand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import SYSTEM_ACTOR, DeployError, PageRequest
from engine.catalog import deploy_folder
from tests.engine.builder import diagram, end_event, flows, start_event

ROOT = Path(__file__).resolve().parents[2]
DECIDE = diagram(start_event() + '<bpmn:businessRuleTask id="decide" name="Decide"><bpmn:extensionElements>'
                 "<spiffworkflow:calledDecisionId>change_risk</spiffworkflow:calledDecisionId>"
                 "</bpmn:extensionElements></bpmn:businessRuleTask>\n" + end_event()
                 + flows("start", "decide", "end"))
PLAIN = diagram(start_event() + end_event() + flows("start", "end"))


def _folder(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_folder_deploys_each_diagram_with_the_decision_tables_it_calls(engine, tmp_path):
    risk = (ROOT / "bpmn" / "change" / "change_risk.dmn").read_text()
    root = _folder(tmp_path, {"change/assess.bpmn": DECIDE, "change/plain.bpmn": PLAIN, "change/change_risk.dmn": risk,
                              "release/ship.bpmn": PLAIN, "notes.txt": "not a practice"})

    outcomes = deploy_folder(engine, root, actor=SYSTEM_ACTOR)

    assert [(o.key, o.practice, o.version, o.created) for o in outcomes] == [
        ("assess", "change", 1, True), ("plain", "change", 1, True), ("ship", "release", 1, True)]
    assert len(engine.version_view("assess", 1).decisions) == 1
    assert engine.version_view("plain", 1).decisions == []  # a table it does not call is not bundled
    again = deploy_folder(engine, root, actor=SYSTEM_ACTOR)
    assert [o.created for o in again] == [False, False, False]


def test_a_broken_decision_table_in_the_folder_is_reported_by_the_deploy(engine, tmp_path):
    root = _folder(tmp_path, {"change/assess.bpmn": DECIDE, "change/change_risk.dmn": "<definitions><decision>"})

    with pytest.raises(DeployError) as caught:
        deploy_folder(engine, root, actor=SYSTEM_ACTOR)

    [problem] = caught.value.problems
    assert problem.message.startswith("Decision table 1 is not well-formed XML")
    assert engine.list_models(None, PageRequest()).total == 0


def test_a_broken_diagram_in_the_folder_is_reported_with_its_line(engine, tmp_path):
    risk = (ROOT / "bpmn" / "change" / "change_risk.dmn").read_text()
    broken = PLAIN.replace("</bpmn:process>", "</bpmn:proc>")
    root = _folder(tmp_path, {"change/broken.bpmn": broken, "change/change_risk.dmn": risk})

    with pytest.raises(DeployError) as caught:
        deploy_folder(engine, root, actor=SYSTEM_ACTOR)

    [problem] = caught.value.problems
    assert problem.message.startswith("The document is not well-formed XML")
    assert problem.line == broken.splitlines().index("</bpmn:proc>") + 1
    assert engine.list_models(None, PageRequest()).total == 0
