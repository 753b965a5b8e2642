"""W2, growth: the cost of one completion as an instance's history grows.

A 3-task loop (user task "Work" -> script "Count" -> gateway back) is driven through the engine (in
process, SQLite file) up to 5,000 passes, and through the HTTP API up to 1,000. At each checkpoint the
next completions are timed. Out of the box SpiffWorkflow's cost grows linearly with the history (5.5 ms at
10 passes to 2.2 s at 5,000, per ../shared/SPIFFWORKFLOW-NOTES.md); the engine keeps the live state small.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from sqlalchemy import select

from bench.common import (
    WORKLOADS,
    Client,
    Server,
    create_user,
    deploy_workload,
    fresh_sqlite,
    progress,
    summary,
)
from cab import register_cab_services
from engine import CompleteTask, Database, DeployVersion, Engine, StartInstance
from engine.models import ProcessInstance
from forms import FormDefinition
from itsm import BUSINESS_KEY_PREFIXES, itsm_services
from migrations import upgrade
from roles.policy import role_for_lane

CHECKPOINTS = (10, 100, 1000, 5000)
SAMPLES = 30


def _engine(url: str) -> Engine:
    upgrade(url)
    forms = json.loads((WORKLOADS / "forms.json").read_text())
    definitions = {key: FormDefinition.from_dict(key, value) for key, value in forms.items()}
    return Engine(Database(url), lane_roles=role_for_lane, find_form=definitions.get,
                  services=register_cab_services(itsm_services()), business_keys=BUSINESS_KEY_PREFIXES)


def _state_size(engine: Engine, instance_id: int) -> int:
    with engine.database.snapshot() as session:
        return len(session.scalar(select(ProcessInstance.state).where(ProcessInstance.id == instance_id)))


def through_engine(checkpoints: tuple[int, ...]) -> dict[str, Any]:
    engine = _engine(fresh_sqlite("w2_engine"))
    engine.run(DeployVersion(key="w2_loop", practice="bench", bpmn=(WORKLOADS / "w2_loop.bpmn").read_text()),
               actor="bench")
    target = max(checkpoints) + SAMPLES + 1
    warm_up = engine.run(StartInstance("w2_loop", data={"passes": 0, "target": 50}), actor="bench").tasks[0]
    while warm_up is not None:  # caches, statement compilation, code paths
        warm_up = _complete(engine, warm_up)
    instance = engine.run(StartInstance("w2_loop", data={"passes": 0, "target": target}), actor="bench")
    results: dict[str, Any] = {}
    passes, task = 0, instance.tasks[0]
    for checkpoint in checkpoints:
        while passes < checkpoint:
            task = _complete(engine, task)
            passes += 1
        samples = []
        for _ in range(SAMPLES):
            started = time.perf_counter()
            task = _complete(engine, task)
            samples.append(time.perf_counter() - started)
            passes += 1
        results[f"after {checkpoint} passes"] = {**summary(samples),
                                                 "state_bytes": _state_size(engine, instance.id)}
        progress(f"  engine, {checkpoint} passes: complete median {summary(samples)['median_ms']:.2f} ms, "
                 f"state {results[f'after {checkpoint} passes']['state_bytes']} bytes")
    return results


def _complete(engine: Engine, task: Any) -> Any:
    done = engine.run(CompleteTask(task.id, data={"note": "x"}), actor="bench")
    return done.next_tasks[0] if done.next_tasks else None


def through_api(checkpoints: tuple[int, ...]) -> dict[str, Any]:
    url = fresh_sqlite("w2_api")
    token = create_user(url, "bench", "owner:bench", "practitioner:bench")
    server = Server(url)
    results: dict[str, Any] = {}
    try:
        client = Client(server.port, token)
        deploy_workload(client, "w2_loop", "w2_loop.bpmn")
        target = max(checkpoints) + SAMPLES + 1
        instance = client.ok("start", "POST", "/api/instances",
                             {"process": "w2_loop", "data": {"passes": 0, "target": target}})
        task_id, passes = instance["tasks"][0]["id"], 0
        for checkpoint in checkpoints:
            while passes < checkpoint:
                task_id = _complete_http(client, "fill", task_id)
                passes += 1
            client.timings["complete"].clear()
            for _ in range(SAMPLES):
                task_id = _complete_http(client, "complete", task_id)
                passes += 1
            results[f"after {checkpoint} passes"] = summary(client.timings["complete"])
            progress(f"  API, {checkpoint} passes: complete median "
                     f"{results[f'after {checkpoint} passes']['median_ms']:.2f} ms")
        client.close()
    finally:
        server.stop()
    return results


def _complete_http(client: Client, label: str, task_id: str) -> str:
    answer = client.ok(label, "POST", f"/api/tasks/{task_id}/complete", {"data": {"note": "x"}})
    return answer["next_tasks"][0]["id"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine-checkpoints", default=",".join(map(str, CHECKPOINTS)))
    parser.add_argument("--api-checkpoints", default="10,100,1000")
    args = parser.parse_args(argv)
    progress("W2 through the engine")
    engine_results = through_engine(tuple(int(n) for n in args.engine_checkpoints.split(",")))
    progress("W2 through the API")
    api_results = through_api(tuple(int(n) for n in args.api_checkpoints.split(",")))
    first, last = next(iter(engine_results.values())), list(engine_results.values())[-1]
    results = {"engine": engine_results, "api": api_results,
               "engine_growth_ratio": last["median_ms"] / first["median_ms"]}
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))


