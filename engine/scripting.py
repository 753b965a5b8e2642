"""The script engine SpiffWorkflow calls for scripts, expressions and service tasks.

One is built per command, around the shared sandbox environment: it carries the command's service
context (so service tasks run inside the command's transaction) and the engine's clock (for timers).
"""

from __future__ import annotations

import json
import traceback
from datetime import date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy.exc import SQLAlchemyError

from engine.parsing import MAX_INSTANCES
from engine.sandbox import SCRIPT_FILENAME, SandboxEnvironment, ScriptFailure
from engine.services import ServiceContext, ServiceRegistry


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(f"a service returned a {type(value).__name__}, which is not JSON")


class ScriptEngine(PythonScriptEngine):
    """Runs everything in the sandbox and routes service tasks to registered Python functions."""

    def __init__(self, environment: SandboxEnvironment, services: ServiceRegistry | None = None,
                 service_context: ServiceContext | None = None, now: datetime | None = None) -> None:
        super().__init__(environment)
        self.services = services
        self.service_context = service_context
        # The command's time: timers, scripts and audit events of one command agree on "now", including
        # when the timer worker fires timers due by a moment it was given.
        self._now = now

    def now(self) -> datetime:
        """The command's time (else the engine's clock); the clocked timers ask for it."""
        return self._now if self._now is not None else self.environment.now()

    def _context(self, external_context: dict[str, Any] | None) -> dict[str, Any]:
        if self._now is None:
            return external_context or {}
        moment = self._now
        return {"now": lambda: moment, "today": lambda: moment.date(), **(external_context or {})}

    def execute(self, task: Any, script: str, external_context: dict[str, Any] | None = None) -> bool:
        return bool(super().execute(task, script, self._context(external_context)))

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        try:
            value = self.environment.evaluate(expression, task.data, self._context(external_context))
        except SpiffWorkflowException as error:
            error.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as error:
            line = getattr(error, "line", None)
            wrapped = WorkflowTaskException(
                f"Error evaluating expression '{expression}': {_describe(error)}",
                task=task, exception=error, line_number=line,
            )
            raise _named(wrapped, error) from error
        if expression == getattr(task.task_spec, "cardinality", None) and isinstance(value, int) \
                and not isinstance(value, bool) and value > MAX_INSTANCES:
            raise WorkflowTaskException(f"The loop cardinality {value} is more than the {MAX_INSTANCES} instances "
                                        "a multi-instance task may have.", task=task)
        return value

    def call_service(self, task: Any, operation_name: str, operation_params: dict[str, Any]) -> str:
        # Replaces the library's version, whose error handler refers to an undefined name.
        if self.services is None or self.service_context is None:
            raise WorkflowTaskException("service tasks cannot run outside a command", task=task)
        params = {name: spec["value"] for name, spec in operation_params.items()}
        try:
            # A service that fails leaves nothing behind: what it wrote before failing is rolled back.
            with self.service_context.savepoint():
                result = self.services.call(operation_name, self.service_context, params)
                return json.dumps(result, default=_json_default)
        except SQLAlchemyError:
            raise  # the database's trouble (a lost race) is the executor's to answer, not the diagram's
        except Exception as error:  # noqa: BLE001 - whatever a service raises stops its instance, not the server
            raise WorkflowTaskException(
                f"Service '{operation_name}' failed: {_describe(error)}", task=task, exception=error
            ) from error

    def create_task_exec_exception(self, task: Any, script: str, err: Exception) -> Exception:
        line_number, error_line = self.get_error_line_number_and_content(script, err)
        if isinstance(err, SpiffWorkflowException):
            err.line_number = line_number
            err.error_line = error_line
            err.add_note(f"Python script error on line {line_number}: '{error_line}'")
            located: Exception = err
            return located
        wrapped: Exception = _named(WorkflowTaskException(
            _describe(err), task=task, exception=err, line_number=line_number, error_line=error_line
        ), err)
        return wrapped

    def get_error_line_number_and_content(self, script: str, err: Exception) -> tuple[int, str]:
        line_number = 0
        reported = getattr(err, "line", None)  # the worker's report of the script's line
        if reported:
            line_number = int(reported)
        elif isinstance(err, SyntaxError) and err.lineno:
            line_number = err.lineno
        else:
            for frame in traceback.extract_tb(err.__traceback__):
                if frame.filename == SCRIPT_FILENAME and frame.lineno:
                    line_number = frame.lineno
        lines = script.splitlines()
        error_line = lines[line_number - 1] if 0 < line_number <= len(lines) else ""
        return line_number, error_line


def _named(wrapped: WorkflowTaskException, error: Exception) -> WorkflowTaskException:
    """The incident's error type is the script's: a failure the server could not rebuild names its own."""
    if isinstance(error, ScriptFailure):
        wrapped.error_type = error.error_type
    return wrapped


def _describe(error: Exception) -> str:
    text = str(error)
    name = error.error_type if isinstance(error, ScriptFailure) else type(error).__name__
    return f"{name}: {text}" if text else name
