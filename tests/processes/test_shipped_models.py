"""The shipped diagrams as a whole: deploying them, their forms, their decision table, and who may start them."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.processes.harness import Api, ProcessRun
from tests.processes.samples import EMERGENCY_REQUEST, REQUEST, REWORK, STANDARD_REQUEST, release_plan

ROOT = Path(__file__).resolve().parents[2]
BPMN = ROOT / "bpmn"
FORMS = ROOT / "forms" / "definitions"
HERE = Path(__file__).resolve().parent
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
DIAGRAMS = sorted(BPMN.glob("*/*.bpmn"))
PROCESSES = [path.stem for path in DIAGRAMS]


def parse(path: Path) -> Any:
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))


def form_key(element: Any) -> str | None:
    found = element.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"
                          "[@name='formKey']/@value", namespaces=NS)
    return found[0] if found else None


def form_fields(key: str) -> dict[str, dict[str, Any]]:
    return {field["name"]: field for field in json.loads((FORMS / f"{key}.json").read_text())["fields"]}


def diagram_forms(path: Path) -> list[str]:
    return sorted({key for key in parse(path).xpath("//@value[../@name='formKey']", namespaces=NS)})


# -- deploying ----------------------------------------------------------------------------------------------


def test_flask_deploy_deploys_the_four_processes_once(app, client, people):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["deploy"])
    assert first.exit_code == 0, first.output
    assert sorted(first.output.splitlines()) == [
        "emergency_change (change): version 1 deployed",
        "normal_change (change): version 1 deployed",
        "release (release): version 1 deployed",
        "standard_change (change): version 1 deployed",
    ]
    again = runner.invoke(args=["deploy"])
    assert again.exit_code == 0, again.output
    assert sorted(again.output.splitlines()) == [
        "emergency_change (change): version 1 unchanged",
        "normal_change (change): version 1 unchanged",
        "release (release): version 1 unchanged",
        "standard_change (change): version 1 unchanged",
    ]
    models = client.get("/api/process-models", headers=people.headers("admin")).get_json()
    assert sorted((m["key"], m["practice"], m["latest_version"]) for m in models) == [
        ("emergency_change", "change", 1), ("normal_change", "change", 1), ("release", "release", 1),
        ("standard_change", "change", 1),
    ]


# -- forms --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", DIAGRAMS, ids=PROCESSES)
def test_every_user_task_and_start_event_has_a_form_that_exists(path):
    document = parse(path)
    missing, unknown = [], []
    for element in document.xpath("//bpmn:userTask | //bpmn:startEvent", namespaces=NS):
        key = form_key(element)
        if key is None:
            missing.append(element.get("id"))
        elif not (FORMS / f"{key}.json").is_file():
            unknown.append(f"{element.get('id')}: {key}")
    assert missing == [], f"{path.name}: no formKey on {missing}"
    assert unknown == [], f"{path.name}: no form file for {unknown}"


def test_every_shipped_form_is_used_by_a_diagram():
    used = {key for path in DIAGRAMS for key in diagram_forms(path)}
    shipped = {str(path.relative_to(FORMS).with_suffix("")) for path in FORMS.glob("**/*.json")}
    assert shipped - used == set(), "forms no diagram uses"


def gateway_reads(path: Path) -> dict[str, set[str]]:
    """Variable name -> ids of the sequence flows whose conditions read it."""
    reads: dict[str, set[str]] = {}
    for flow in parse(path).xpath("//bpmn:sequenceFlow[bpmn:conditionExpression]", namespaces=NS):
        expression = flow.find("bpmn:conditionExpression", NS).text.strip()
        for node in ast.walk(ast.parse(expression, mode="eval")):
            if isinstance(node, ast.Name):
                reads.setdefault(node.id, set()).add(flow.get("id"))
    return reads


def written_by_diagram(path: Path) -> set[str]:
    """Variables the diagram sets: form fields, script assignments, service results, DMN outputs."""
    document = parse(path)
    names = {name for key in diagram_forms(path) for name in form_fields(key)}
    for script in document.xpath("//bpmn:scriptTask/bpmn:script/text()", namespaces=NS):
        names |= {target.id for node in ast.walk(ast.parse(script)) if isinstance(node, ast.Assign)
                  for target in node.targets if isinstance(target, ast.Name)}
    names |= set(document.xpath("//spiffworkflow:serviceTaskOperator/@resultVariable", namespaces=NS))
    decisions = document.xpath("//spiffworkflow:calledDecisionId/text()", namespaces=NS)
    for table in path.parent.glob("*.dmn"):
        dmn = parse(table)
        if any(dmn.xpath(f"//*[local-name()='decision'][@id='{decision}']") for decision in decisions):
            names |= set(dmn.xpath("//*[local-name()='output']/@name"))
    return names


@pytest.mark.parametrize("path", DIAGRAMS, ids=PROCESSES)
def test_gateway_conditions_read_only_variables_the_diagram_sets(path):
    unknown = {name: flows for name, flows in gateway_reads(path).items() if name not in written_by_diagram(path)}
    assert unknown == {}, f"{path.name}: conditions read variables nothing sets"


def submitted_values() -> set[tuple[str, str]]:
    """(field, value) pairs the path tests submit: keyword arguments, dict entries and parametrized values."""
    pairs: set[tuple[str, str]] = set()
    for source in [*HERE.glob("test_*.py"), HERE / "samples.py"]:
        for node in ast.walk(ast.parse(source.read_text())):
            pairs |= set(_literal_pairs(node))
    return pairs


def _literal_pairs(node: ast.AST) -> Iterator[tuple[str, str]]:
    if isinstance(node, ast.keyword) and node.arg and isinstance(node.value, ast.Constant):
        yield node.arg, node.value.value
    elif isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(value, ast.Constant):
                yield key.value, value.value
    elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "parametrize" and len(node.args) >= 2
          and isinstance(node.args[0], ast.Constant | ast.Tuple) and isinstance(node.args[1], ast.List)):
        first = node.args[0]
        names = ([name.strip() for name in first.value.split(",")] if isinstance(first, ast.Constant)
                 else [element.value for element in first.elts])
        for case in node.args[1].elts:
            values = case.elts if isinstance(case, ast.Tuple) and len(names) > 1 else [case]
            for name, value in zip(names, values, strict=False):
                if isinstance(value, ast.Constant):
                    yield name, value.value


@pytest.mark.parametrize("path", DIAGRAMS, ids=PROCESSES)
def test_every_choice_a_gateway_reads_is_walked_by_a_path_test(path):
    fields = {name: field for key in diagram_forms(path) for name, field in form_fields(key).items()}
    decided = {name for name in gateway_reads(path) if fields.get(name, {}).get("type") == "enum"}
    walked = submitted_values()
    missing = sorted((name, choice) for name in decided for choice in fields[name]["choices"]
                     if (name, choice) not in walked)
    assert missing == [], f"{path.name}: no path test submits these gateway choices"


@pytest.mark.parametrize(("process", "data"), [("normal_change", REQUEST), ("standard_change", STANDARD_REQUEST)])
def test_the_planned_end_must_come_after_the_planned_start(client, people, shipped, process, data):
    for planned_end in ("2026-01-12T08:00:00Z", data["planned_start"]):
        problem = ProcessRun.refused(client, people, process, as_="change-practitioner",
                                     data={**data, "planned_end": planned_end})
        assert problem["status"] == 422
        assert set(problem["errors"]) == {"planned_end"}, problem
        assert "after" in problem["errors"]["planned_end"][0].lower(), problem


def test_a_reworked_request_must_also_end_after_it_starts(start):
    run = start("normal_change", as_="change-practitioner", data=REQUEST)
    run.complete("assess_change", as_="change-manager", assessment_decision="rework", assessment_notes="Dates?")
    problem = run.complete("rework_request_for_change", as_="change-practitioner", expect=422,
                           data={**REWORK, "planned_end": "2026-01-04T09:00:00Z"})
    assert set(problem["errors"]) == {"planned_end"}, problem
    run.expect_tasks({"rework_request_for_change": "change-practitioner"})  # nothing changed


def test_a_release_links_changes_by_their_business_keys(client, people, shipped):
    problem = ProcessRun.refused(client, people, "release", as_="release-manager", data=release_plan("CHG-42"))
    assert "change_keys" in problem["errors"], problem
    problem = ProcessRun.refused(client, people, "release", as_="release-manager", data=release_plan())
    assert "change_keys" in problem["errors"], problem


# -- the change risk table ----------------------------------------------------------------------------------

RISK = {  # (impact, likelihood) -> risk, as bpmn/change/change_risk.dmn decides it
    ("low", "low"): "low", ("low", "medium"): "low", ("low", "high"): "medium",
    ("medium", "low"): "low", ("medium", "medium"): "medium", ("medium", "high"): "high",
    ("high", "low"): "medium", ("high", "medium"): "high", ("high", "high"): "high",
}


def test_the_risk_of_a_normal_change_follows_the_change_risk_table(start):
    for day, ((impact, likelihood), risk) in enumerate(RISK.items(), start=12):
        # a window of its own each, so that no change overlaps another (a conflict raises the risk)
        run = start("normal_change", as_="change-practitioner",
                    data={**REQUEST, "impact": impact, "likelihood": likelihood,
                          "planned_start": f"2026-01-{day}T09:00:00Z", "planned_end": f"2026-01-{day}T13:00:00Z"})
        run.expect_data(risk=risk, schedule_conflicts=[])
        run.expect_tasks({"assess_change": "change-manager"})


SCHEDULED_RISK = {  # (impact, likelihood, conflict) -> risk: a conflict raises a low risk; a blackout makes it high
    ("low", "low", "overlap"): "medium", ("medium", "low", "overlap"): "medium", ("low", "high", "overlap"): "medium",
    ("medium", "high", "overlap"): "high", ("low", "low", "blackout"): "high", ("medium", "low", "blackout"): "high",
}


def test_the_risk_table_weighs_schedule_conflicts(start, client, people):
    Api(client, people).call("POST", "/api/blackouts", as_="change-owner", expect=201, json_body={
        "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-02-08T00:00:00Z", "reason": "Month-end close",
        "service": "billing"})
    first = start("normal_change", as_="change-practitioner", data=REQUEST)
    first.expect_data(risk="low", schedule_conflicts=[])
    for (impact, likelihood, conflict), risk in SCHEDULED_RISK.items():
        window = ({"planned_start": "2026-01-12T10:00:00Z", "planned_end": "2026-01-12T11:00:00Z"}
                  if conflict == "overlap" else
                  {"planned_start": "2026-02-02T10:00:00Z", "planned_end": "2026-02-02T11:00:00Z"})
        run = start("normal_change", as_="change-practitioner",
                    data={**REQUEST, "impact": impact, "likelihood": likelihood, **window})
        run.expect_data(risk=risk)
        assert conflict in [found["kind"] for found in run.data["schedule_conflicts"]], run.data
        run.expect_tasks({"assess_change": "change-manager"})


# -- who may start what -------------------------------------------------------------------------------------

STARTERS = {  # the lane of each start event decides
    "normal_change": ("change-practitioner", REQUEST),
    "standard_change": ("change-practitioner", STANDARD_REQUEST),
    "emergency_change": ("change-practitioner", EMERGENCY_REQUEST),
    "release": ("release-manager", release_plan("CHG-000001")),
}


@pytest.mark.parametrize("process", sorted(STARTERS))
def test_only_the_start_lane_may_start_a_process(client, people, shipped, process):
    starter, data = STARTERS[process]
    others = ["change-owner", "change-manager", "change-practitioner", "release-owner", "release-manager",
              "release-practitioner", "nobody"]
    for user in others:
        if user != starter:
            problem = ProcessRun.refused(client, people, process, as_=user, data=data, expect=403)
            assert problem["status"] == 403
    if process == "release":  # the change it carries must exist and be open
        ProcessRun(client, people, "normal_change", as_="change-practitioner", data=REQUEST)
    run = ProcessRun(client, people, process, as_=starter, data=data)
    assert run.business_key.startswith("REL-" if process == "release" else "CHG-")
