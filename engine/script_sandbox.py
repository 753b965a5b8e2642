"""The sandbox core: compile a BPMN script under RestrictedPython and run it, in a script worker process.

This module imports only the standard library and RestrictedPython, so that a worker starts quickly
(``python engine/script_sandbox.py`` is the worker's entry point, see ``main``). The server never runs a
script itself: ``engine.script_pool`` sends each job to a worker and kills the worker when the job runs
past its time limit. Everything here therefore assumes it may be killed at any moment, and reports every
outcome (success, an exception of any kind, even ``SystemExit``) as a message instead of raising it.

Inside the worker, a trace function gives the friendly timeout (with the script's line); the pool's kill
is the one a script cannot catch or switch off, and it also covers work done in C (``math.factorial``,
``10 ** 10 ** 10``), which no trace function sees. The worker's memory is capped with ``RLIMIT_AS``, so
``"a" * 10 ** 10`` is a ``MemoryError`` in the worker, not gigabytes taken from the server.
"""

from __future__ import annotations

import ast
import builtins
import math
import operator
import os
import pickle
import re
import signal
import struct
import sys
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, BinaryIO

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
    safer_getattr_raise,
)

SCRIPT_FILENAME = "<bpmn-script>"
MAX_RANGE = 100_000
_LINE_PREFIX = re.compile(r"^Line (\d+): ")
# Modules the C code behind allowed helpers imports for itself (datetime.strftime needs time,
# datetime.strptime needs _strptime). Scripts cannot import them: see ``_no_imports``.
_INTERNAL_IMPORTS = frozenset({"time", "_strptime"})


class ScriptError(Exception):
    """A script broke a sandbox rule."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class ScriptTimeout(ScriptError):
    """A script ran longer than its time limit."""


class ScriptFailure(ScriptError):
    """A script raised an exception that cannot be rebuilt as itself in the server; ``error_type`` names it."""

    def __init__(self, message: str, line: int | None = None, *, error_type: str = "ScriptError") -> None:
        super().__init__(message, line)
        self.error_type = error_type


def _no_imports(name: str, globals: Any = None, locals: Any = None, fromlist: Any = None, level: int = 0) -> Any:
    # A script's `import x` passes fromlist None (or a tuple for `from x import y`); C code importing
    # for itself passes a list. Scripts cannot name __import__, so only the C path can pass a list.
    if name in _INTERNAL_IMPORTS and isinstance(fromlist, list) and not fromlist:
        return builtins.__import__(name, globals, locals, fromlist, level)
    raise ImportError(f"imports are not allowed in scripts (tried to import {name!r})")


def _bounded_range(*args: int) -> range:
    # Refused up front for a clear message; the worker's time limit would stop it anyway.
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
_BUILTINS = _builtins()
_MATH = _math_namespace()
_JSON_SCALARS = (str, int, float, bool, type(None), datetime, date, timedelta)


def helpers(moment: datetime) -> dict[str, Any]:
    """The names every script sees besides the process data; ``now()`` is the command's time."""
    return {
        "math": _MATH, "datetime": datetime, "date": date, "timedelta": timedelta, "timezone": timezone,
        "now": lambda: moment, "today": lambda: moment.date(),
        "parse_datetime": parse_datetime, "parse_date": parse_date,
    }


def compile_problems(source: str, *, mode: str) -> list[tuple[int | None, str]]:
    """Return ``(line, message)`` for every reason ``source`` does not compile in the sandbox."""
    compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    result = compiler(source, filename=SCRIPT_FILENAME)
    problems: list[tuple[int | None, str]] = []
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


def run_job(mode: str, source: str, context: dict[str, Any], external: Mapping[str, Any], moment: datetime,
            time_limit: float) -> Any:
    """Run one script (``exec``: return the variables it leaves) or expression (``eval``: its value)."""
    names = helpers(moment)
    scope: dict[str, Any] = {"__builtins__": _BUILTINS, **_GUARDS, **names, **external}
    if mode == "eval":
        code = _CODE_CACHE.get(source.strip(), "eval")
        scope.update(context)
        return _traced(lambda: eval(code, scope), time_limit)
    code = _CODE_CACHE.get(source, "exec")
    scope.update(context)  # the worker's own copy: the server's data stays as it was if the script fails
    _traced(lambda: exec(code, scope), time_limit)
    return _harvest(scope, external, names)


def _harvest(scope: dict[str, Any], external: Mapping[str, Any], names: Mapping[str, Any]) -> dict[str, Any]:
    result = {}
    for name, value in scope.items():
        if name.startswith("_") or name in external:
            continue
        if name in names and value is names[name]:  # a helper, not data (None is data)
            continue
        if callable(value):
            continue  # functions a script defines for itself are not data
        check_storable(name, value)
        result[name] = value
    return result


def _traced(action: Callable[[], Any], time_limit: float) -> Any:
    """Run ``action`` with a per-opcode trace that raises ``ScriptTimeout`` at the line that overran.

    A script can catch that exception (and the trace is gone once an exception leaves it); the pool's
    kill of the whole worker is the limit that holds regardless.
    """
    deadline = time.monotonic() + time_limit
    steps = 0

    def trace_steps(frame: types.FrameType, event: str, arg: Any) -> Any:
        nonlocal steps
        steps += 1
        if steps % 1024 == 0 and time.monotonic() > deadline:
            raise ScriptTimeout(f"the script ran longer than {time_limit:g} s", frame.f_lineno)
        return trace_steps

    def trace_calls(frame: types.FrameType, event: str, arg: Any) -> Any:
        # Only sandboxed code is traced, and per opcode: `while True: pass` emits no line events.
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


# -- what process data may hold ----------------------------------------------------------------------


def storable_text_problem(text: str) -> str | None:
    """Why a string cannot be stored in process data (both databases, and valid JSON), or None."""
    if "\x00" in text:
        return "a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone UTF-16 surrogate, which is not Unicode text"
    return None


def check_storable(name: str, value: Any, depth: int = 0) -> None:
    """Raise ``ScriptError`` naming the variable when ``value`` is not storable process data."""
    if depth > 50:
        raise ScriptError(f"variable {name!r} is nested too deeply to store")
    if isinstance(value, str):
        problem = storable_text_problem(value)
        if problem:
            raise ScriptError(f"variable {name!r} holds text with {problem}, which process data cannot store")
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ScriptError(f"variable {name!r} holds {value!r}, which is not a JSON number; process data "
                          "cannot store NaN or infinity")
    if isinstance(value, _JSON_SCALARS):
        return
    if isinstance(value, (list, tuple)):
        _check_all(name, value, depth)
        return
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ScriptError(f"variable {name!r} has a non-text key {key!r}; process data is JSON")
            check_storable(name, key, depth + 1)
        _check_all(name, value.values(), depth)
        return
    raise ScriptError(
        f"variable {name!r} holds a {type(value).__name__}, which process data cannot store; "
        "use None, bool, int, float, str, list, dict, date, datetime or timedelta"
    )


def _check_all(name: str, values: Iterable[Any], depth: int) -> None:
    for item in values:
        check_storable(name, item, depth + 1)


# -- the worker process ---------------------------------------------------------------------------------

_FRAME = struct.Struct("!I")


def write_frame(stream: BinaryIO, payload: Any) -> None:
    body = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(body)) + body)
    stream.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _error_line(error: BaseException) -> int | None:
    if isinstance(error, ScriptError) and error.line:
        return error.line
    if isinstance(error, SyntaxError) and error.lineno:
        return error.lineno
    line = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == SCRIPT_FILENAME:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def describe_failure(error: BaseException) -> dict[str, Any]:
    """What the server needs to rebuild the error: its type's name, message, line, and NameError's name."""
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - a script's exception may even fail to print
        message = ""
    return {"type": type(error).__name__, "message": message[:2000], "line": _error_line(error),
            "timeout": isinstance(error, ScriptTimeout), "name": getattr(error, "name", None)
            if isinstance(error, NameError) else None}


def _set_limits(memory_bytes: int) -> None:
    import resource  # noqa: PLC0415 - POSIX only; the worker is the only user

    for limit, value in ((resource.RLIMIT_AS, memory_bytes), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0)):
        if value > 0 or limit != resource.RLIMIT_AS:
            resource.setrlimit(limit, (value, value))


def _cpu_budget(seconds: float) -> None:
    """A CPU-time ceiling for the next job, in case the server that would kill this worker is gone."""
    import resource  # noqa: PLC0415

    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (int(spent + seconds) + 2, hard))


def serve(reader: BinaryIO, writer: BinaryIO) -> None:
    """Answer jobs until the server closes the pipe. Nothing a job does ends this loop but a kill."""
    while True:
        header = _read_exactly(reader, _FRAME.size)
        if header is None:
            return
        body = _read_exactly(reader, _FRAME.unpack(header)[0])
        if body is None:
            return
        job = None
        try:
            job = pickle.loads(body)
            _cpu_budget(job["time_limit"])
            value = run_job(job["mode"], job["source"], job["context"], job["external"], job["now"],
                            job["time_limit"])
            answer: tuple[str, Any] = ("ok", value)
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as error:  # noqa: BLE001 - SystemExit from a script is an answer too
            payload = pickle.dumps(("error", describe_failure(error)), protocol=pickle.HIGHEST_PROTOCOL)
        del job
        writer.write(_FRAME.pack(len(payload)) + payload)
        writer.flush()


def main() -> None:
    """The worker's entry point: ``python script_sandbox.py MEMORY_BYTES``; jobs on stdin, answers on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which then closes the pipe
    memory = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    _set_limits(memory)
    reader, writer = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers goes to the pipe
    os.environ.clear()  # nothing to leak to a script that escaped anyway
    serve(reader, writer)


if __name__ == "__main__":
    main()
