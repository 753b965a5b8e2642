"""Engine errors. Each explains itself: the docstring is the default message, ``detail`` the specifics.

The API maps them to HTTP statuses in one table (``api/errors.py``); the engine knows nothing of HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class EngineError(Exception):
    """The engine could not carry out the command."""

    def __init__(self, detail: str | None = None, **context: Any) -> None:
        self.detail = detail or (type(self).__doc__ or "").strip()
        self.context = context  # machine-readable specifics, e.g. the conflicting task's id
        super().__init__(self.detail)


class NotFound(EngineError):
    """The resource does not exist."""


class Conflict(EngineError):
    """The resource is not in a state that allows this; reload it and try again."""


class InvalidInput(EngineError):
    """The request is well-formed but its content is invalid."""

    def __init__(self, detail: str | None = None, errors: Mapping[str, Sequence[str]] | None = None,
                 **context: Any) -> None:
        super().__init__(detail, **context)
        self.errors = {name: list(messages) for name, messages in (errors or {}).items()}


class FormInvalid(InvalidInput):
    """The submitted data does not match the task's form."""


@dataclass(frozen=True)
class Problem:
    """One reason a BPMN document cannot be deployed, located as precisely as we can."""

    message: str
    element_id: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"element_id": self.element_id, "message": self.message, "line": self.line}


class DeployError(EngineError):
    """The BPMN document cannot be deployed."""

    def __init__(self, problems: Sequence[Problem], detail: str | None = None) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__(detail or f"The BPMN document has {count} problem{'s' if count != 1 else ''}.")
