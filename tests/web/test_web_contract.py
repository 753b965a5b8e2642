"""The pages' contract: one <h1>, a <label> for every field (with the form's label text), accessible names for
every button and link, and no asset from another host."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from forms import load_form_directory
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("shipped")
FIELDS = ("input", "select", "textarea")
UNLABELLED_INPUTS = {"hidden", "submit", "button"}


class Outline(HTMLParser):
    """What the contract needs from a page: headings, fields, labels, buttons, links and asset URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h1 = 0
        self.fields: list[dict[str, str]] = []
        self.labels: dict[str, str] = {}
        self.named: list[tuple[str, dict[str, str], str]] = []  # (tag, attributes, text) of buttons and links
        self.assets: list[str] = []
        self._open: list[tuple[str, dict[str, str], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "h1":
            self.h1 += 1
        if tag in FIELDS and attributes.get("type") not in UNLABELLED_INPUTS:
            self.fields.append({"tag": tag, **attributes})
        if tag in ("label", "button", "a"):
            self._open.append((tag, attributes, []))
        if tag in ("script", "img") and "src" in attributes:
            self.assets.append(attributes["src"])
        if tag == "link" and "href" in attributes:
            self.assets.append(attributes["href"])

    def handle_data(self, data: str) -> None:
        for _tag, _attributes, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            opened, attributes, text = self._open.pop()
            content = " ".join("".join(text).split())
            if opened == "label" and attributes.get("for"):
                self.labels[attributes["for"]] = content
            elif opened in ("button", "a"):
                self.named.append((opened, attributes, content))


def outline(page: Any) -> Outline:
    assert page.status == 200, (page.status, page.text[:500])
    parsed = Outline()
    parsed.feed(page.text)
    return parsed


def check_contract(page: Any) -> Outline:
    parsed = outline(page)
    assert parsed.h1 == 1, "one <h1> per page"
    for field in parsed.fields:
        assert field.get("id") and parsed.labels.get(field["id"]), f"no <label> for {field}"
    for tag, attributes, text in parsed.named:
        assert text or attributes.get("aria-label") or attributes.get("title"), f"<{tag} {attributes}> has no name"
    for url in parsed.assets:
        assert url.startswith("/") and not url.startswith("//"), f"an asset from another host: {url}"
    return parsed


def pages_to_check(http: Any, clock: Any, browser: Any) -> list[tuple[str, str]]:
    change = http.start_change(clock)
    task = change["tasks"][0]["id"]
    return [
        ("change-manager", "/"), ("change-manager", f"/tasks/{task}"), ("change-practitioner", "/start"),
        ("change-practitioner", "/start/normal_change"), ("release-manager", "/start/release"),
        ("change-manager", f"/changes/{change['business_key']}"), ("change-manager", "/find"),
        ("admin", "/admin/users"), ("admin", "/admin/users/change-manager"), ("change-owner", "/account"),
        ("change-manager", "/tasks/not-a-task"),
        ("change-owner", "/studio"), ("change-owner", "/studio/normal_change"),
    ]


def test_every_page_keeps_the_contract(http, clock, browser):
    clients: dict[str, Any] = {}
    for user, path in pages_to_check(http, clock, browser):
        client = clients.setdefault(user, browser(user))
        page = client.get(path)
        if path == "/tasks/not-a-task":
            assert page.status == 404
            page.response.status_code = 200  # the error page keeps the contract too
        check_contract(page)
    check_contract(browser(None).get("/sign-in"))


@pytest.mark.parametrize("form_key", sorted(load_form_directory(ROOT / "forms" / "definitions")))
def test_every_shipped_form_renders_each_field_with_its_label(app, browser, form_key):
    from forms import FormDefinition
    from web.forms import html_fields

    definition: FormDefinition = load_form_directory(ROOT / "forms" / "definitions")[form_key]
    with app.test_request_context():
        from flask import render_template_string

        html = render_template_string('{% from "_macros.html" import form_fields %}{{ form_fields(fields) }}',
                                       fields=html_fields(definition, {}))
    parsed = Outline()
    parsed.feed(html)
    assert len(parsed.fields) == len(definition.fields)
    for field, control in zip(definition.fields, parsed.fields, strict=True):
        assert control["name"] == field.name
        assert parsed.labels[control["id"]].startswith(field.label)
        assert ("required" in control) == field.required
