"""The studio's version pages: a model's versions with a visual diff, and moving instances between versions.

``/studio/<key>/versions`` lists who deployed each version, when, why, and how many instances run on it;
picking two versions shows both diagrams with the elements added, removed and changed marked (the server
computes the diff; the bundled bpmn-js viewer draws it). ``/studio/<key>/migrations`` is for owners and
admins: a dry run per instance, then the move of the instances ticked, each in its own transaction.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from engine import InvalidInput, PageRequest
from engine.migrating import migrate_instances, plan_migration
from engine.views import ProcessFacts
from roles.policy import Action, authorizer, check, may
from web.context import me, web

MAX_VERSIONS = 500


def _versions(key: str) -> list[Any]:
    return list(web().engine.list_versions(key, PageRequest(1, MAX_VERSIONS)).items)


def _number(name: str) -> int | None:
    value = request.args.get(name) or request.form.get(name) or ""
    return int(value) if value.isdigit() and 0 < int(value) < 2**31 else None


def versions(model_key: str) -> Any:
    """The versions of a model (anyone signed in, as the API), and the diff of two of them when asked."""
    model = web().engine.model_view(model_key)
    rows = _versions(model_key)
    new, old = _number("compare"), _number("against")
    changes = None
    if new is not None:
        old = old if old is not None else new - 1
        changes = web().engine.version_changes(model_key, old, new)
    may_migrate = may(me(), Action.MIGRATE, ProcessFacts(model.key, model.practice))
    return render_template("versions.html", model=model, versions=rows, new=new, old=old, changes=changes,
                           may_migrate=may_migrate)


def version_diagram(model_key: str, number: int) -> Response:
    """A version's BPMN with the diff's marks for the viewer: on the newer side what was added (as
    ``active``) and changed (``waiting``); on the older side what was removed (``completed``) and changed."""
    view = web().engine.version_view(model_key, number)
    other = _number("against")
    marks: dict[str, list[str]] = {"active": [], "waiting": [], "completed": []}
    if other is not None:
        newer = number > other
        changes = web().engine.version_changes(model_key, other if newer else number, number if newer else other)
        for change in changes:
            if change.change == "changed":
                marks["waiting"].append(change.element_id)
            elif change.change == "added" and newer:
                marks["active"].append(change.element_id)
            elif change.change == "removed" and not newer:
                marks["completed"].append(change.element_id)
    return jsonify({"bpmn": view.bpmn, **marks, "focus": None})


def _mapping(text: str) -> dict[str, str]:
    """``old_id = new_id`` (or ``old_id -> new_id``), one per line."""
    mapping, bad = {}, []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        parts = [part.strip() for part in line.replace("->", "=").split("=")]
        if len(parts) != 2 or not all(parts):
            bad.append(line)
            continue
        mapping[parts[0]] = parts[1]
    if bad:
        raise InvalidInput("The mapping has lines that are not 'old_id = new_id'.",
                           errors={"mapping": [f"Cannot read: {line}" for line in bad[:5]]})
    return mapping


def migrations(model_key: str) -> Any:
    """The migration page (owners of the practice and admins): pick N and M, see the dry run, move."""
    model = web().engine.model_view(model_key)
    check(me(), Action.MIGRATE, ProcessFacts(model.key, model.practice))
    rows = _versions(model_key)
    source, target = _number("from_version"), _number("to_version")
    mapping_text = request.args.get("mapping", "")
    report = None
    if source is not None and target is not None:
        report = plan_migration(web().engine, model_key, source, target, _mapping(mapping_text),
                                actor=me().username, authorize=authorizer(me(), Action.MIGRATE))
    return render_template("migrations.html", model=model, versions=rows, source=source, target=target,
                           mapping_text=mapping_text, report=report)


def migrate(model_key: str) -> Any:
    """Move the instances ticked on the dry run, one transaction each; say what moved and what did not."""
    model = web().engine.model_view(model_key)
    check(me(), Action.MIGRATE, ProcessFacts(model.key, model.practice))
    source, target = _number("from_version"), _number("to_version")
    if source is None or target is None:
        raise InvalidInput("Pick the version to move from and the version to move to.",
                           errors={"from_version": ["Required."], "to_version": ["Required."]})
    mapping_text = request.form.get("mapping", "")
    ids = [int(value) for value in request.form.getlist("instance_id") if value.isdigit() and int(value) < 2**31]
    if not ids:
        flash("Tick the instances to move.", "error")
    else:
        report = migrate_instances(web().engine, model_key, source, target, _mapping(mapping_text),
                                   actor=me().username, authorize=authorizer(me(), Action.MIGRATE), instance_ids=ids)
        if report.moved:
            flash(f"Moved to version {target}: {', '.join(report.moved)}.", "info")
        for skipped in report.skipped:
            flash(f"{skipped['business_key']} stayed on version {source}: {skipped['reason']}", "error")
    return redirect(url_for("web.migrations", model_key=model_key, from_version=source, to_version=target,
                            mapping=mapping_text or None))


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/studio/<string:model_key>/versions", "versions", versions)
    blp.add_url_rule("/studio/<string:model_key>/versions/<int:number>/diagram.json", "version_diagram",
                     version_diagram)
    blp.add_url_rule("/studio/<string:model_key>/migrations", "migrations", migrations)
    blp.add_url_rule("/studio/<string:model_key>/migrations", "migrate", migrate, methods=["POST"])
