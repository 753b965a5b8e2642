"""Tests of load_form_directory on temporary trees of form files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from forms import FormDefinition, FormDefinitionError, load_form_directory


def form_data(title: str = "A form", **top: Any) -> dict[str, Any]:
    """A valid form file's content."""
    return {"title": title, **top, "fields": [{"name": "note", "type": "string"}]}


def write(root: Path, relative: str, content: object) -> Path:
    """Write ``content`` (JSON-encoded unless it is a str) to ``root / relative``."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2), encoding="utf-8")
    return path


def problems_of(root: Path) -> list[str]:
    """The problems load_form_directory reports for ``root`` (fails when it loads)."""
    with pytest.raises(FormDefinitionError) as caught:
        load_form_directory(root)
    return caught.value.problems


def test_nested_keys(tmp_path: Path) -> None:
    write(tmp_path, "change/request.json", form_data("Request"))
    write(tmp_path, "change/review/assessment.json", form_data("Assessment"))
    write(tmp_path, "top.json", form_data("Top"))
    write(tmp_path, "change/README.md", "not a form")
    loaded = load_form_directory(tmp_path)
    assert sorted(loaded) == ["change/request", "change/review/assessment", "top"]
    assert all(isinstance(form, FormDefinition) for form in loaded.values())
    assert loaded["change/review/assessment"].key == "change/review/assessment"
    assert loaded["change/request"].title == "Request"


def test_accepts_a_string_path(tmp_path: Path) -> None:
    write(tmp_path, "a.json", form_data())
    assert list(load_form_directory(str(tmp_path))) == ["a"]


def test_empty_directory(tmp_path: Path) -> None:
    assert load_form_directory(tmp_path) == {}


def test_matching_key_in_the_file(tmp_path: Path) -> None:
    write(tmp_path, "change/request.json", form_data(key="change/request"))
    assert list(load_form_directory(tmp_path)) == ["change/request"]


def test_key_mismatch(tmp_path: Path) -> None:
    write(tmp_path, "change/request.json", form_data(key="change/rfc"))
    assert problems_of(tmp_path) == [
        "change/request.json: 'key' is 'change/rfc' but the form's key is 'change/request'"
    ]


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    write(
        tmp_path, "change/broken.json", '{\n  "title": "Broken",\n  "fields": [\n    {"name": "x",}\n  ]\n}\n'
    )
    assert problems_of(tmp_path) == [
        "change/broken.json: malformed JSON at line 4, column 18: "
        "Expecting property name enclosed in double quotes"
    ]


def test_duplicate_key_in_a_json_object(tmp_path: Path) -> None:
    write(tmp_path, "dup.json", '{"title": "A", "title": "B", "fields": [{"name": "x", "type": "string"}]}')
    assert problems_of(tmp_path) == ["dup.json: the key 'title' appears more than once in an object"]


def test_file_that_is_not_an_object(tmp_path: Path) -> None:
    write(tmp_path, "list.json", [1, 2])
    assert problems_of(tmp_path) == ["list.json: the form must be a JSON object, not list"]


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "latin1.json").write_bytes('{"title": "Änderung"}'.encode("latin-1"))
    assert problems_of(tmp_path) == ["latin1.json: the file is not valid UTF-8"]


def test_several_bad_files_are_reported_together(tmp_path: Path) -> None:
    write(tmp_path, "good.json", form_data())
    write(tmp_path, "change/a.json", "{")
    write(tmp_path, "change/b.json", {"title": "B", "fields": [{"name": "x", "type": "str"}], "extra": 1})
    write(tmp_path, "release/c.json", form_data(key="wrong"))
    with pytest.raises(FormDefinitionError) as caught:
        load_form_directory(tmp_path)
    assert caught.value.problems == [
        "change/a.json: malformed JSON at line 1, column 2: "
        "Expecting property name enclosed in double quotes",
        "change/b.json: unknown top-level key 'extra' (allowed: key, title, description, fields)",
        "change/b.json: field 'x': 'type' must be one of: "
        "string, text, integer, number, boolean, enum, date, date-time, list; not 'str'",
        "release/c.json: 'key' is 'wrong' but the form's key is 'release/c'",
    ]
    assert caught.value.key == str(tmp_path)
    assert "change/b.json: unknown top-level key 'extra'" in str(caught.value)


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert problems_of(missing) == [f"{missing}: not a directory"]
