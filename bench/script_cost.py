"""What one BPMN script call costs: a small script, a gateway condition, and a command that runs a script.

    .venv/bin/python -m bench.script_cost [--label NAME] [--calls N]

It drives ``SandboxEnvironment`` (the environment SpiffWorkflow calls) and the engine through their public
API, so the same file measures the sandbox before and after a change to how scripts run. When the
in-process core (``engine.script_sandbox``) exists it is measured too: that is what the old sandbox did
per call, without any process boundary. Figures are medians of repeated batches, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.common import calibration_ms, machine
from cab import register_cab_services
from engine import Database, Engine, FakeClock
from engine.sandbox import SandboxEnvironment
from itsm import BUSINESS_KEY_PREFIXES, itsm_services
from roles.policy import role_for_lane

SCRIPT = "total = sum(prices)\nlabel = 'big' if total > 10 else 'small'\ndue = now()"
CONDITION = "amount > 10 and isinstance(amount, int)"
DATA = {"prices": [4, 5, 6], "amount": 12, "title": "Patch the relays", "notes": ["a" * 40] * 10}


def _per_call_ms(action: Callable[[], object], calls: int, batches: int = 7) -> dict[str, float]:
    action()  # warm-up: caches, a worker process
    medians = []
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(calls):
            action()
        medians.append((time.perf_counter() - started) * 1000 / calls)
    return {"median_ms": round(statistics.median(medians), 4), "min_ms": round(min(medians), 4),
            "max_ms": round(max(medians), 4)}


def _environment_figures(calls: int) -> dict[str, dict[str, float]]:
    environment = SandboxEnvironment(FakeClock(datetime(2026, 1, 5, 9, tzinfo=UTC)), time_limit=2.0)
    figures = {
        "script (execute)": _per_call_ms(lambda: environment.execute(SCRIPT, dict(DATA)), calls),
        "condition (evaluate)": _per_call_ms(lambda: environment.evaluate(CONDITION, dict(DATA)), calls),
    }
    try:
        from engine import script_sandbox  # the in-process core, where it exists
    except ImportError:
        return figures
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    figures["in-process core, script"] = _per_call_ms(
        lambda: script_sandbox.run_job("exec", SCRIPT, dict(DATA), {}, now, 2.0), calls)
    figures["in-process core, condition"] = _per_call_ms(
        lambda: script_sandbox.run_job("eval", CONDITION, dict(DATA), {}, now, 2.0), calls)
    return figures


def _command_figures(calls: int) -> dict[str, dict[str, float]]:
    """StartInstance of start -> script task -> end on SQLite: what a person waits for."""
    from tests.engine.builder import diagram, end_event, flows, script_task, start_event
    from tests.engine.support import deploy, start

    with tempfile.TemporaryDirectory() as folder:
        import migrations

        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        migrations.upgrade(url)
        engine = Engine(Database(url), lane_roles=role_for_lane, clock=FakeClock(),
                        services=register_cab_services(itsm_services()), business_keys=BUSINESS_KEY_PREFIXES)
        deploy(engine, diagram(start_event() + script_task("work", SCRIPT) + end_event()
                               + flows("start", "work", "end")), forms={})
        figures = {"StartInstance with one script task": _per_call_ms(
            lambda: start(engine, data={"prices": [1, 2]}), max(calls // 20, 10), batches=5)}
        engine.database.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="current")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    calibration = calibration_ms()
    figures = {**_environment_figures(args.calls), **_command_figures(args.calls)}
    result = {"label": args.label, "machine": machine(), "calibration_ms": calibration, "figures": figures}
    print(json.dumps(result, indent=2))
    print(f"\n| {args.label} | median ms per call (min-max of batches) |\n|---|---|")
    for name, figure in figures.items():
        print(f"| {name} | {figure['median_ms']:.3f} ({figure['min_ms']:.3f}-{figure['max_ms']:.3f}) |")


if __name__ == "__main__":
    main()
