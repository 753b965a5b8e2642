"""What one command costs through ``Engine.run``: StartInstance and CompleteTask on a 2-user-task process.

SQLite file database under /tmp, the engine in this process, no HTTP. Prints medians (and p95) in ms over
``--runs`` instances; asserts nothing. Run: ``.venv/bin/python bench/engine_costs.py [--runs 200]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cab import register_cab_services
from engine import CompleteTask, Database, DeployVersion, Engine, StartInstance
from itsm import BUSINESS_KEY_PREFIXES, itsm_services
from migrations import upgrade
from roles.policy import role_for_lane

FORMS = {
    "bench/approve": {"title": "Approve", "fields": [
        {"name": "approved", "type": "boolean", "required": True},
        {"name": "comment", "type": "string", "max_length": 200}]},
    "bench/implement": {"title": "Implement", "fields": [
        {"name": "outcome", "type": "enum", "choices": ["done", "failed"], "required": True},
        {"name": "notes", "type": "text"}]},
}
BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="bench">
  <bpmn:collaboration id="collaboration"><bpmn:participant id="pool" processRef="two_tasks"/></bpmn:collaboration>
  <bpmn:process id="two_tasks" name="Two user tasks" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="managers" name="Process Manager"><bpmn:flowNodeRef>approve</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="practitioners" name="Practitioner"><bpmn:flowNodeRef>implement</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="approve" name="Approve">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="bench/approve"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="implement" name="Implement">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="bench/implement"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="implement"/>
    <bpmn:sequenceFlow id="f3" sourceRef="implement" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def timed(engine: Engine, command: object, actor: str) -> tuple[float, Any]:
    """Run one command through ``Engine.run``; return its wall time in seconds and its result."""
    started = time.perf_counter()
    result = engine.run(command, actor=actor)
    return time.perf_counter() - started, result


def describe(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median = statistics.median(ordered) * 1000
    return f"{name:<28} median {median:7.2f} ms   p95 {p95 * 1000:7.2f} ms   n={len(ordered)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="changeflow-bench-"))
    url = f"sqlite:///{directory / 'engine_costs.db'}"
    upgrade(url)
    database = Database(url)
    engine = Engine(database, lane_roles=role_for_lane, services=register_cab_services(itsm_services()),
                    business_keys=BUSINESS_KEY_PREFIXES)
    engine.run(DeployVersion("two_tasks", "change", BPMN, forms=FORMS), actor="owner")

    starts, approvals, implementations = [], [], []
    for number in range(args.warmup + args.runs):
        start_s, instance = timed(engine, StartInstance("two_tasks", {"n": number}), "alice")
        approve_s, moved = timed(engine, CompleteTask(instance.tasks[0].id, {"approved": True, "comment": "fine"}),
                                 "mike")
        implement_s, _done = timed(engine, CompleteTask(moved.next_tasks[0].id, {"outcome": "done"}), "pat")
        if number >= args.warmup:
            starts.append(start_s)
            approvals.append(approve_s)
            implementations.append(implement_s)

    print(f"SQLite file database: {url}")
    print(describe("StartInstance", starts))
    print(describe("CompleteTask (1st, to 2nd)", approvals))
    print(describe("CompleteTask (2nd, to end)", implementations))
    print(describe("CompleteTask (both)", approvals + implementations))
    database.dispose()


if __name__ == "__main__":
    main()
