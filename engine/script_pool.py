"""Script workers: every BPMN script, condition and expression runs in a separate, limited process.

A script in the server's own process could stop it: ``raise SystemExit``, a ``math.factorial(10 ** 8)``
that holds the GIL for minutes, or ``[0] * 10 ** 10``. So each job goes to a worker process (see
``engine.script_sandbox``) that has a memory ceiling, and the server waits for the answer only until the
time limit (plus a short grace) has passed. Then it kills the worker, whatever the script was doing, and
the job is a ``ScriptTimeout``. A worker that dies (out of memory, CPU ceiling) is a ``ScriptError``. In
both cases a fresh worker replaces it at the next job, and the script's failure is an incident on its
instance: the server and its other requests carry on.

A few workers start on first use and are reused, so a job costs a pipe round trip and two pickles (see
bench/script_cost.py). Answers are unpickled with an allow-list: a worker runs untrusted code.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import io
import logging
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from engine import script_sandbox
from engine.script_sandbox import ScriptError, ScriptFailure, ScriptTimeout

log = logging.getLogger(__name__)
WORKER_SCRIPT = Path(script_sandbox.__file__).resolve()
DEFAULT_WORKERS = 2
DEFAULT_MEMORY_MB = 512
MAX_ANSWER_BYTES = 16 * 1024 * 1024
START_TIMEOUT = 60.0  # a busy machine may take a while to start Python; the job's clock starts after
_FRAME = script_sandbox._FRAME


class _Gone(Exception):
    """The worker did not answer: it died, or it was killed for running too long."""


class _AnswerUnpickler(pickle.Unpickler):
    """Answers hold JSON-like data, dates and a few containers; anything else is refused."""

    ALLOWED = frozenset({("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"),
                         ("datetime", "timezone"), ("datetime", "time"), ("builtins", "set"),
                         ("builtins", "frozenset"), ("builtins", "range"), ("builtins", "complex"),
                         ("builtins", "slice")})

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a {module}.{name} cannot leave the sandbox")


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self, memory_bytes: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-E", "-s", "-P", str(WORKER_SCRIPT), str(memory_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True, cwd="/",
            start_new_session=True,  # terminal signals are for the server; it closes the pipes
        )
        self.pid = self.process.pid
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin = self.process.stdin
        self._out = self.process.stdout.fileno()
        try:
            self.call(pickle.dumps({"mode": "eval", "source": "1", "context": {}, "external": {},
                                    "now": datetime(2000, 1, 1), "time_limit": START_TIMEOUT}),
                      time.monotonic() + START_TIMEOUT)
        except _Gone as error:
            self.kill()
            raise ScriptError(f"a script worker could not start: {error}") from None

    def call(self, request: bytes, deadline: float) -> bytes:
        """Send one job and wait for its answer until ``deadline`` (monotonic); ``_Gone`` otherwise."""
        try:
            self._stdin.write(_FRAME.pack(len(request)) + request)
            self._stdin.flush()
        except OSError as error:
            raise _Gone(f"the worker is gone ({error})") from None
        header = self._read(_FRAME.size, deadline)
        size = _FRAME.unpack(header)[0]
        if size > MAX_ANSWER_BYTES:
            raise _Gone(f"the answer has {size // (1024 * 1024)} MB; at most "
                        f"{MAX_ANSWER_BYTES // (1024 * 1024)} MB of data may come back from a script")
        return self._read(size, deadline)

    def _read(self, size: int, deadline: float) -> bytes:
        buffer = io.BytesIO()
        while buffer.tell() < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Gone("timeout")
            ready, _, _ = select.select([self._out], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._out, min(size - buffer.tell(), 1 << 20))
            if not chunk:
                raise _Gone("the worker died")
            buffer.write(chunk)
        return buffer.getvalue()

    def kill(self) -> None:
        with contextlib.suppress(OSError):  # already gone
            os.killpg(self.pid, signal.SIGKILL)
        self.close()
        self.process.wait()

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a pipe to a dead worker may fail to flush
                    stream.close()


class ScriptPool:
    """A few reusable worker processes. Thread-safe; a forked child starts its own workers."""

    def __init__(self, size: int = DEFAULT_WORKERS, *, memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        self.size = max(1, size)
        self.memory_bytes = memory_mb * 1024 * 1024
        self._available = threading.Condition()
        self._idle: list[_Worker] = []
        self._count = 0
        self._pid = os.getpid()

    def run(self, mode: str, source: str, context: dict[str, Any], external: dict[str, Any], moment: datetime,
            time_limit: float) -> Any:
        """Run one job in a worker: a script's new variables (``exec``) or an expression's value (``eval``).

        Raises the script's own exception (rebuilt), ``ScriptTimeout`` or ``ScriptError``.
        """
        try:
            request = pickle.dumps({"mode": mode, "source": source, "context": context, "external": external,
                                    "now": moment, "time_limit": time_limit}, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # noqa: BLE001 - whatever pickle refuses, the message says
            raise ScriptError(f"the process data cannot be handed to a script: {error}") from None
        worker = self._checkout()
        grace = max(0.5, time_limit / 4)
        try:
            answer = worker.call(request, time.monotonic() + time_limit + grace)
        except _Gone as error:
            self._discard(worker)
            if str(error) == "timeout":
                raise ScriptTimeout(f"the script ran longer than {time_limit:g} s and was stopped") from None
            raise ScriptError(f"the script's process ended without an answer ({error}); it may have used more "
                              f"than {self.memory_bytes // (1024 * 1024)} MB") from None
        self._checkin(worker)
        try:
            status, value = _AnswerUnpickler(io.BytesIO(answer)).load()
        except Exception as error:  # noqa: BLE001 - an answer we do not accept is the script's fault
            raise ScriptError(f"the script's result cannot leave the sandbox: {error}") from None
        if status == "ok":
            return value
        if value.get("type") == "MemoryError":
            raise MemoryError(f"the script needed more than the {self.memory_bytes // (1024 * 1024)} MB of "
                              "memory a script may use")
        raise rebuild_error(value)

    def close(self) -> None:
        """Stop the idle workers (busy ones stop when their pipe closes after their job)."""
        with self._available:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.close()
            try:
                worker.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                worker.kill()

    def _checkout(self) -> _Worker:
        with self._available:
            self._after_fork()
            while not self._idle and self._count >= self.size:
                self._available.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _Worker(self.memory_bytes)
        except BaseException:
            with self._available:
                self._count -= 1
                self._available.notify()
            raise

    def _checkin(self, worker: _Worker) -> None:
        with self._available:
            if os.getpid() != self._pid:
                return
            self._idle.append(worker)
            self._available.notify()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._available:
            self._count -= 1
            self._available.notify()

    def _after_fork(self) -> None:
        """In a forked child (gunicorn workers), the parent's workers are not ours: forget them."""
        if os.getpid() == self._pid:
            return
        for worker in self._idle:
            worker.close()  # our copies of the pipes only; the parent keeps its workers
            worker.process.returncode = 0  # not our child: never wait for it
        self._idle, self._count, self._pid = [], 0, os.getpid()


def rebuild_error(failure: dict[str, Any]) -> Exception:
    """The exception a script raised, as itself when it is a built-in ``Exception`` (``ZeroDivisionError``),
    else a ``ScriptFailure`` naming its type. ``SystemExit`` and its kin become plain script failures."""
    name, message, line = str(failure["type"]), str(failure["message"]), failure.get("line")
    if failure.get("timeout"):
        return ScriptTimeout(message, line)
    if name == "ScriptError":
        return ScriptError(message, line)
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            error = cls(message, name=failure.get("name")) if cls is NameError else cls(message)
        except Exception:  # noqa: BLE001 - a type that needs more arguments is rebuilt generically
            error = None
        if error is not None:
            error.line = line  # type: ignore[attr-defined]
            return error
    if isinstance(cls, type) and issubclass(cls, BaseException) and not issubclass(cls, Exception):
        text = f"{name}({message})" if message else name
        return ScriptFailure(f"the script raised {text}, which may not stop the engine", line, error_type=name)
    return ScriptFailure(message or name, line, error_type=name)


_shared: ScriptPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ScriptPool:
    """The process's pool, sized by ``CHANGEFLOW_SCRIPT_WORKERS`` and ``CHANGEFLOW_SCRIPT_MEMORY_MB``."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ScriptPool(int(os.environ.get("CHANGEFLOW_SCRIPT_WORKERS", DEFAULT_WORKERS)),
                                 memory_mb=int(os.environ.get("CHANGEFLOW_SCRIPT_MEMORY_MB", DEFAULT_MEMORY_MB)))
            atexit.register(_shared.close)
        return _shared
