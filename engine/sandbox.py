"""The script environment SpiffWorkflow calls: BPMN scripts, conditions and expressions, sandboxed.

SpiffWorkflow's default environment runs ``exec``/``eval`` with full builtins in the server, so an uploaded
diagram could do anything the server can, or simply stop it. Here every script is compiled by
RestrictedPython (no names or attributes starting with ``_``), runs with an allow-list of builtins and
helpers, in a separate worker process with a time and memory limit (``engine.script_pool``), and may only
leave storable JSON-like values behind in the task data (``engine.script_sandbox``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.clock import Clock
from engine.script_pool import ScriptPool, shared_pool
from engine.script_sandbox import (
    SCRIPT_FILENAME,
    ScriptError,
    ScriptFailure,
    ScriptTimeout,
    compile_problems,
    parse_date,
    parse_datetime,
    storable_text_problem,
)

__all__ = ["SCRIPT_FILENAME", "SandboxEnvironment", "ScriptError", "ScriptFailure", "ScriptTimeout",
           "compile_problems", "parse_date", "parse_datetime", "storable_text_problem"]


SCRIPT_TIME_LIMIT = 2.0  # seconds one script or expression may run: the engine's and the setting's default


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment that sends every script and expression to a script worker."""

    def __init__(self, clock: Clock, *, time_limit: float = SCRIPT_TIME_LIMIT, pool: ScriptPool | None = None) -> None:
        self.clock = clock
        self.time_limit = time_limit
        self.pool = pool if pool is not None else shared_pool()
        super().__init__({})

    def now(self) -> datetime:
        """The engine's clock, so scripts see the same time as timers (and tests control both)."""
        return self.clock.now()

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        """Evaluate an expression (a condition, a timer, a DMN entry) against the task data."""
        moment, external = self._split(external_context)
        return self.pool.run("eval", expression, context, external, moment, self.time_limit)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        """Run a script; on success replace the task data with the variables it leaves behind."""
        moment, external = self._split(external_context)
        result = self.pool.run("exec", script, context, external, moment, self.time_limit)
        context.clear()
        context.update(result)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise ScriptError("service tasks are called through the script engine, not the environment")

    def _split(self, external_context: dict[str, Any] | None) -> tuple[datetime, dict[str, Any]]:
        """The command's time (from its ``now`` helper, else the clock) and the data-only external context:
        functions cannot cross to the worker, which makes its own ``now()`` and ``today()`` from the time."""
        external = dict(external_context or {})
        now = external.pop("now", None)
        external.pop("today", None)
        moment = now() if callable(now) else self.now()
        return moment, {name: value for name, value in external.items() if not callable(value)}
