"""The two exceptions of the forms package."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class FormDefinitionError(ValueError):
    """The form definition is invalid."""

    def __init__(self, key: str, problems: Iterable[str], message: str | None = None) -> None:
        self.key = key
        self.problems: list[str] = list(problems)
        super().__init__(message if message is not None else type(self).__doc__)

    def __str__(self) -> str:
        head = f"{self.args[0]} ({self.key})" if self.key else str(self.args[0])
        return "\n".join([head, *(f"- {problem}" for problem in self.problems)])

    def __reduce__(self) -> tuple[object, ...]:
        # The constructor does not take ``args``, so the default pickling would call it wrongly.
        return (type(self), (self.key, self.problems, self.args[0]))


class FormValidationError(ValueError):
    """The submitted data does not match the form."""

    def __init__(self, errors: Mapping[str, Iterable[str]], message: str | None = None) -> None:
        self.errors: dict[str, list[str]] = {name: list(messages) for name, messages in errors.items()}
        super().__init__(message if message is not None else type(self).__doc__)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.errors, self.args[0]))
