"""Issue 12: what validating and deploying a 200-element diagram costs, with and without a layout to draw.

The diagram: a pool with three lanes and 100 flow nodes (a chain of user tasks with a form, script tasks and
exclusive gateways with a condition each) joined by 100 sequence flows: 200 elements with ids, about 90 KB
with its layout. Each run deploys new content (the comment and a name change), so every deploy parses,
checks, draws (when asked), hashes and stores a version. SQLite file database under /tmp, the engine in this
process, no HTTP; wall time and this process's CPU time per command. Asserts nothing.
Run: ``.venv/bin/python -m bench.studio_deploy [--runs 20]``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import Database, DeployVersion, Engine, ValidateDeployment
from engine.canonical import canonical_xml
from engine.layout import add_missing_layout
from itsm import BUSINESS_KEY_PREFIXES, itsm_services
from migrations import upgrade
from roles.policy import role_for_lane

FORMS = {"bench/decide": {"title": "Decide", "fields": [
    {"name": "ok", "type": "boolean", "required": True}, {"name": "note", "type": "string", "max_length": 200}]}}
LANES = ("Practitioner", "Process Manager", "Process Owner")


def diagram(nodes: int = 100) -> str:
    """A BPMN document with ``nodes`` flow nodes and as many sequence flows (no layout)."""
    ids = ["start"] + [f"n{index}" for index in range(1, nodes - 1)] + ["end"]
    body, lanes = [], {lane: [] for lane in LANES}
    for position, element_id in enumerate(ids):
        lane = LANES[position % 3]
        lanes[lane].append(element_id)
        if element_id == "start":
            body.append('<bpmn:startEvent id="start"/>')
        elif element_id == "end":
            body.append('<bpmn:endEvent id="end"/>')
        elif position % 5 == 0:
            body.append(f'<bpmn:exclusiveGateway id="{element_id}" default="flow_{element_id}"/>')
        elif position % 5 == 3:
            body.append(f'<bpmn:scriptTask id="{element_id}" name="Step {position}"><bpmn:script>x_{position} = '
                        f"{position} * 2</bpmn:script></bpmn:scriptTask>")
        else:
            body.append(f'<bpmn:userTask id="{element_id}" name="Task {position}"><bpmn:extensionElements>'
                        '<spiffworkflow:properties><spiffworkflow:property name="formKey" value="bench/decide"/>'
                        "</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>")
    for source, target in zip(ids, ids[1:], strict=False):
        body.append(f'<bpmn:sequenceFlow id="flow_{source}" sourceRef="{source}" targetRef="{target}"/>')
    # the 100th flow: a conditional one from the first gateway to the end
    body.append('<bpmn:sequenceFlow id="flow_skip" sourceRef="n5" targetRef="end"><bpmn:conditionExpression '
                'xsi:type="bpmn:tFormalExpression">x_3 &gt; 100</bpmn:conditionExpression></bpmn:sequenceFlow>')
    lane_xml = "".join(f'<bpmn:lane id="lane_{index}" name="{name}">'
                       + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs) + "</bpmn:lane>"
                       for index, (name, refs) in enumerate(lanes.items()))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="bench">'
            '<bpmn:collaboration id="collaboration"><bpmn:participant id="pool" name="Big" processRef="big"/>'
            '</bpmn:collaboration><bpmn:process id="big" name="Big" isExecutable="true">'
            f'<bpmn:laneSet id="lanes">{lane_xml}</bpmn:laneSet>' + "\n".join(body)
            + "</bpmn:process></bpmn:definitions>\n")


def measure(action: Callable[[int], Any], runs: int, warmup: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for number in range(warmup + runs):
        wall, cpu = time.perf_counter(), time.process_time()
        action(number)
        if number >= warmup:
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return walls, cpus


def describe(name: str, walls: list[float], cpus: list[float]) -> str:
    ordered = sorted(walls)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"| {name} | {statistics.median(walls) * 1000:.0f} | {p95 * 1000:.0f} | "
            f"{statistics.median(cpus) * 1000:.0f} | {len(walls)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="changeflow-bench-"))
    url = f"sqlite:///{directory / 'studio_deploy.db'}"
    upgrade(url)
    database = Database(url)
    engine = Engine(database, lane_roles=role_for_lane, services=itsm_services(), business_keys=BUSINESS_KEY_PREFIXES)
    bare = diagram()
    laid_out = add_missing_layout(bare).xml
    elements = len(re.findall(r'<bpmn:\w+ id="', bare)) - 5  # without definitions, pool, process, lane set
    print(f"diagram: {elements} elements with ids (flow nodes, flows, lanes), {len(bare) / 1024:.0f} KB bare, "
          f"{len(laid_out) / 1024:.0f} KB with its layout")

    def variant(text: str, number: int) -> str:
        return text.replace('name="Task 1"', f'name="Task 1 ({number})"')

    rows = [
        describe("validate, with layout", *measure(lambda n: engine.run(ValidateDeployment(
            "big", "change", variant(laid_out, n), forms=FORMS), actor="owner"), args.runs, args.warmup)),
        describe("deploy, with layout", *measure(lambda n: engine.run(DeployVersion(
            "big", "change", variant(laid_out, n), forms=FORMS, comment=f"run {n}"), actor="owner"),
            args.runs, args.warmup)),
        describe("deploy, layout drawn at deploy", *measure(lambda n: engine.run(DeployVersion(
            "big", "change", variant(bare, 10_000 + n), forms=FORMS), actor="owner"), args.runs, args.warmup)),
        describe("re-deploy, identical content (200)", *measure(lambda n: engine.run(DeployVersion(
            "big", "change", laid_out, forms=FORMS), actor="owner"), args.runs, args.warmup)),
        describe("canonical XML only", *measure(lambda n: canonical_xml(laid_out), args.runs, args.warmup)),
        describe("drawing the layout only", *measure(lambda n: add_missing_layout(bare), args.runs, args.warmup)),
    ]
    print("| operation | median ms | p95 ms | CPU median ms | n |\n|---|---|---|---|---|")
    print("\n".join(rows))
    database.dispose()


if __name__ == "__main__":
    main()
