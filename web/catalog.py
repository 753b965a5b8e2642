"""The change-model catalog in the browser: the templates a practitioner raises standard changes from, and
the owner's publish form and retire button. The same commands and policy as /api/change-templates."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from catalog import (
    PUBLISH_FORM,
    RAISE_FORM,
    PublishTemplate,
    RaiseStandardChange,
    RetireTemplate,
    TemplateContent,
    TemplateView,
    list_templates,
    template_versions,
    windows_from_lines,
)
from engine import Conflict, InvalidInput, NotFound
from roles.policy import Action, PracticeFacts, authorizer, check, may
from web.context import me, web
from web.forms import html_fields, posted_values, submitted_data
from web.pages import record_url

PRACTICE = "change"


def catalog_page() -> Any:
    """The practice's active templates, each with its windows, plans and a Raise button."""
    check(me(), Action.VIEW_INSTANCE, PracticeFacts(PRACTICE))
    with web().database.snapshot() as session:
        templates = list_templates(session, PRACTICE)
    return render_template("catalog.html", templates=templates,
                           may_manage=may(me(), Action.MANAGE_CATALOG, PracticeFacts(PRACTICE)))


def _template(key: str) -> TemplateView:
    with web().database.snapshot() as session:
        versions = template_versions(session, key)
    if not versions:
        raise NotFound(f"There is no template '{key}'.")
    check(me(), Action.VIEW_INSTANCE, PracticeFacts(versions[0].practice))
    return versions[0]


def raise_form(key: str, *, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
               problem: str | None = None, status: int = 200) -> Any:
    """The template, and the form for the window and the specifics."""
    template = _template(key)
    fields = html_fields(RAISE_FORM, values or {}, errors, posted=values is not None)
    return render_template("catalog_raise.html", template=template, fields=fields, problem=problem), status


def raise_change(key: str) -> Any:
    """Raise the standard change; on success, land on its record."""
    data = submitted_data(RAISE_FORM, request.form)
    command = RaiseStandardChange(key, planned_start=data.get("planned_start", ""),
                                  planned_end=data.get("planned_end", ""), title=data.get("title"),
                                  notes=data.get("notes"))
    _template(key)
    try:
        instance = web().engine.run(command, actor=me().username, authorize=authorizer(me(), Action.START))
    except InvalidInput as error:
        return raise_form(key, values=posted_values(RAISE_FORM, request.form), errors=error.errors, status=422,
                          problem=error.detail)
    except Conflict as error:  # the template was retired
        return raise_form(key, values=posted_values(RAISE_FORM, request.form), status=409, problem=error.detail)
    flash(f"{instance.business_key} is raised from '{key}'; it needs no approval.", "info")
    return redirect(record_url(instance.business_key, instance.practice))


def publish_form(*, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
                 problem: str | None = None, status: int = 200) -> Any:
    """The owner's form for a new template (or the next version of one): the service is picked from the catalog."""
    check(me(), Action.MANAGE_CATALOG, PracticeFacts(PRACTICE))
    cf = web()
    with cf.database.snapshot() as session:
        choices = cf.engine.choices(session, PUBLISH_FORM)
    fields = html_fields(PUBLISH_FORM, values or {}, errors, posted=values is not None, choice_lists=choices)
    return render_template("catalog_publish.html", fields=fields, problem=problem), status


def publish() -> Any:
    """Publish the posted template (owners, admins); on success, back to the catalog."""
    check(me(), Action.MANAGE_CATALOG, PracticeFacts(PRACTICE))
    data = submitted_data(PUBLISH_FORM, request.form)
    windows, problems = windows_from_lines(data.get("allowed_windows") or [])
    content = TemplateContent(name=data.get("name", ""), service=data.get("service", ""),
                              implementation_plan=data.get("implementation_plan", ""),
                              backout_plan=data.get("backout_plan", ""), test_plan=data.get("test_plan", ""),
                              max_risk=data.get("max_risk", ""), allowed_windows=windows)
    try:
        if problems:  # lines that are no window: said beside the field, before anything else is checked
            raise InvalidInput("The template is not valid.", errors={"allowed_windows": problems})
        template = web().engine.run(PublishTemplate(data.get("key", ""), content, practice=PRACTICE),
                                    actor=me().username, authorize=authorizer(me(), Action.MANAGE_CATALOG))
    except InvalidInput as error:
        return publish_form(values=posted_values(PUBLISH_FORM, request.form), errors=error.errors, status=422,
                            problem=error.detail)
    flash(f"'{template.name}' version {template.version} is published on {template.service}.", "info")
    return redirect(url_for("web.catalog"))


def retire(key: str) -> Any:
    """Retire a template (owners, admins), once the confirmation box is ticked."""
    template = _template(key)
    check(me(), Action.MANAGE_CATALOG, PracticeFacts(template.practice))
    if request.form.get("confirm") != "yes":
        flash(f"Tick the confirmation box to retire '{template.name}'.", "error")
        return redirect(url_for("web.catalog"))
    web().engine.run(RetireTemplate(key), actor=me().username, authorize=authorizer(me(), Action.MANAGE_CATALOG))
    flash(f"'{template.name}' is retired: no new standard change can be raised from it.", "info")
    return redirect(url_for("web.catalog"))


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/catalog", "catalog", catalog_page)
    blp.add_url_rule("/catalog", "catalog_publish", publish, methods=["POST"])
    blp.add_url_rule("/catalog/new", "catalog_publish_form", publish_form)  # 'new' is no template's key
    blp.add_url_rule("/catalog/<string:key>", "catalog_raise_form", raise_form)
    blp.add_url_rule("/catalog/<string:key>", "catalog_raise", raise_change, methods=["POST"])
    blp.add_url_rule("/catalog/<string:key>/retire", "catalog_retire", retire, methods=["POST"])
