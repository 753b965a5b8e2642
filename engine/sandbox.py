"""The script sandbox: BPMN scripts, conditions and expressions run under RestrictedPython.

SpiffWorkflow's default environment runs ``exec``/``eval`` with full builtins, so an uploaded diagram could
do anything the server can. Here every script is compiled by RestrictedPython (no names or attributes
starting with ``_``), runs with an allow-list of builtins and helpers, has a time limit, and may only
leave JSON-like values behind in the task data.
"""

from __future__ import annotations

import ast
import copy
import math
import operator
import re
import sys
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
    safer_getattr_raise,
)
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.clock import Clock

SCRIPT_FILENAME = "<bpmn-script>"
MAX_RANGE = 100_000
_LINE_PREFIX = re.compile(r"^Line (\d+): ")


class ScriptError(Exception):
    """A script broke a sandbox rule."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class ScriptTimeout(ScriptError):
    """A script ran longer than its time limit."""


def _no_imports(name: str, *args: Any, **kwargs: Any) -> None:
    raise ImportError(f"imports are not allowed in scripts (tried to import {name!r})")


def _bounded_range(*args: int) -> range:
    # C-level loops cannot be interrupted by the time limit, so huge ranges are refused up front.
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ValueError(f"range() is limited to {MAX_RANGE} items in scripts")
    return result


_IN_PLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "&=": operator.iand,
    "|=": operator.ior, "^=": operator.ixor, "<<=": operator.ilshift, ">>=": operator.irshift,
}


def _inplace(op: str, target: Any, value: Any) -> Any:
    return _IN_PLACE[op](target, value)


def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


def _getattr(target: Any, name: str, *default: Any) -> Any:
    return safer_getattr(target, name, *default) if default else safer_getattr_raise(target, name)


def _builtins() -> dict[str, Any]:
    allowed = {
        name: value for name, value in safe_builtins.items()
        if name not in {"__build_class__", "setattr", "delattr", "_getattr_", "id", "hash"}
    }
    allowed.update({
        "__import__": _no_imports,
        "range": _bounded_range,
        "getattr": _getattr,
        "min": min, "max": max, "sum": sum, "sorted": sorted, "any": any, "all": all,
        "enumerate": enumerate, "zip": zip, "map": map, "filter": filter, "reversed": reversed,
        "list": list, "dict": dict, "tuple": tuple, "set": set, "frozenset": frozenset,
    })
    return allowed


def _math_namespace() -> types.SimpleNamespace:
    public = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}
    return types.SimpleNamespace(**public)


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time; a value without an offset is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_date(text: str) -> date:
    """Parse an ISO 8601 date."""
    return date.fromisoformat(text)


_GUARDS: dict[str, Any] = {
    "_getattr_": safer_getattr_raise,
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplace,
    "_apply_": _call,
}
_JSON_SCALARS = (str, int, float, bool, type(None), datetime, date, timedelta)


def compile_problems(source: str, *, mode: str) -> list[tuple[int | None, str]]:
    """Return ``(line, message)`` for every reason ``source`` does not compile in the sandbox."""
    compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    result = compiler(source, filename=SCRIPT_FILENAME)
    problems = []
    for error in result.errors:
        match = _LINE_PREFIX.match(error)
        problems.append((int(match.group(1)), error[match.end():]) if match else (None, error))
    if not problems and mode == "exec":
        # RestrictedPython compiles classes, but they cannot run here; say so at deploy, at their line.
        problems = [(node.lineno, "class definitions are not allowed in scripts")
                    for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ClassDef)]
    return problems


class _CodeCache:
    """Compiled scripts by source text; compiling is far slower than running a typical script."""

    def __init__(self, size: int = 2048) -> None:
        self._items: OrderedDict[tuple[str, str], types.CodeType] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, source: str, mode: str) -> types.CodeType:
        key = (mode, source)
        with self._lock:
            code = self._items.get(key)
            if code is not None:
                self._items.move_to_end(key)
                return code
        compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
        result = compiler(source, filename=SCRIPT_FILENAME)
        if result.code is None:
            line, message = compile_problems(source, mode=mode)[0]
            raise ScriptError(f"the script does not compile in the sandbox: {message}", line)
        with self._lock:
            self._items[key] = result.code
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return result.code


_CODE_CACHE = _CodeCache()


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment that runs everything under RestrictedPython."""

    def __init__(self, clock: Clock, *, time_limit: float = 2.0) -> None:
        self.clock = clock
        self.time_limit = time_limit
        self._builtins = _builtins()
        helpers: dict[str, Any] = {
            "math": _math_namespace(),
            "datetime": datetime,
            "date": date,
            "timedelta": timedelta,
            "timezone": timezone,
            "now": self.now,
            "today": lambda: self.now().date(),
            "parse_datetime": parse_datetime,
            "parse_date": parse_date,
        }
        super().__init__(helpers)

    def now(self) -> datetime:
        """The engine's clock, so scripts see the same time as timers (and tests control both)."""
        return self.clock.now()

    def _globals(self, context: Mapping[str, Any], external_context: Mapping[str, Any] | None) -> dict:
        scope: dict[str, Any] = {"__builtins__": self._builtins, **_GUARDS, **self.globals}
        if external_context:
            scope.update(external_context)
        scope.update(context)
        return scope

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        """Evaluate an expression (a condition, a timer, a DMN entry) against the task data."""
        code = _CODE_CACHE.get(expression.strip(), "eval")
        return self._run(lambda: eval(code, self._globals(context, external_context)))

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        """Run a script; on success replace the task data with the variables it leaves behind."""
        code = _CODE_CACHE.get(script, "exec")
        # A deep copy makes a failing script side-effect free, so a retry starts from clean data.
        scope = self._globals(copy.deepcopy(context), external_context)
        self._run(lambda: exec(code, scope))
        result = self._harvest(scope, external_context or {})
        context.clear()
        context.update(result)
        return True

    def call_service(self, context: dict, **kwargs: Any) -> Any:
        raise ScriptError("service tasks are called through the script engine, not the environment")

    def _harvest(self, scope: dict[str, Any], external_context: Mapping[str, Any]) -> dict[str, Any]:
        result = {}
        for name, value in scope.items():
            if name.startswith("_") or name in external_context:
                continue
            if name in self.globals and value is self.globals[name]:  # a helper, not data (None is data)
                continue
            if callable(value):
                continue  # functions a script defines for itself are not data
            _check_storable(name, value)
            result[name] = value
        return result

    def _run(self, action: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.time_limit
        steps = 0

        def trace_steps(frame: types.FrameType, event: str, arg: Any) -> Any:
            nonlocal steps
            steps += 1
            if steps % 1024 == 0 and time.monotonic() > deadline:
                raise ScriptTimeout(f"the script ran longer than {self.time_limit:g} s", frame.f_lineno)
            return trace_steps

        def trace_calls(frame: types.FrameType, event: str, arg: Any) -> Any:
            # Only sandboxed code is traced, and per opcode: `while True: pass` emits no line events.
            # Library code called from a script runs untraced, at full speed.
            if frame.f_code.co_filename != SCRIPT_FILENAME:
                return None
            frame.f_trace_opcodes = True
            return trace_steps

        previous = sys.gettrace()
        sys.settrace(trace_calls)
        try:
            return action()
        finally:
            sys.settrace(previous)


def _check_storable(name: str, value: Any, depth: int = 0) -> None:
    if depth > 50:
        raise ScriptError(f"variable {name!r} is nested too deeply to store")
    if isinstance(value, _JSON_SCALARS):
        return
    if isinstance(value, (list, tuple)):
        _check_all(name, value, depth)
        return
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ScriptError(f"variable {name!r} has a non-text key {key!r}; process data is JSON")
        _check_all(name, value.values(), depth)
        return
    raise ScriptError(
        f"variable {name!r} holds a {type(value).__name__}, which process data cannot store; "
        "use None, bool, int, float, str, list, dict, date, datetime or timedelta"
    )


def _check_all(name: str, values: Iterable[Any], depth: int) -> None:
    for item in values:
        _check_storable(name, item, depth + 1)
