"""Loading every form file of a directory tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from forms.definition import FormDefinition
from forms.errors import FormDefinitionError


def load_form_directory(path: str | Path) -> dict[str, FormDefinition]:
    """Load every ``*.json`` form under ``path``, keyed by its relative path without ``.json``.

    Keys use ``/`` separators (``change/request``). Raise `FormDefinitionError` listing the problems of
    all files at once, each prefixed with the file's relative path.
    """
    root = Path(path)
    if not root.is_dir():
        raise FormDefinitionError(str(root), [f"{root}: not a directory"])
    forms: dict[str, FormDefinition] = {}
    problems: list[str] = []
    for file in sorted(root.rglob("*.json")):
        if not file.is_file():
            continue
        relative = file.relative_to(root).as_posix()
        key = relative.removesuffix(".json")
        data, file_problems = _read_json(file)
        if not file_problems:
            try:
                forms[key] = FormDefinition.from_dict(key, data)
            except FormDefinitionError as error:
                file_problems = error.problems
        problems.extend(f"{relative}: {problem}" for problem in file_problems)
    if problems:
        raise FormDefinitionError(str(root), problems)
    return forms


def _read_json(file: Path) -> tuple[Any, list[str]]:
    """Parse one file; return its data and the problems that stop it from being read."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, ["the file is not valid UTF-8"]
    except OSError as error:
        return None, [f"cannot read the file: {error.strerror or error}"]
    duplicates: list[str] = []

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # json keeps the last of repeated keys silently; an author who repeats one made a mistake.
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                duplicates.append(name)
            result[name] = value
        return result

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as error:
        return None, [f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"]
    return data, [f"the key {name!r} appears more than once in an object" for name in duplicates]
