"""process versions: identity by canonical XML (recompute sha256 of the stored versions)

A version's sha256 is now taken over the canonical XML of its diagram and decision tables (engine.canonical),
so that a modeler's re-save is the same version. Stored versions get their hash recomputed the new way, so
that the shipped diagrams (deployed at start-up) keep matching the versions they already are. When two
versions of a model differ only in whitespace or attribute order, the later keeps its old hash: it stays a
version of its own, and a new deploy of that content finds the earlier one.

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from engine.canonical import canonical_xml

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None

_versions = sa.table(
    "process_version",
    sa.column("id", sa.Integer), sa.column("model_id", sa.Integer), sa.column("number", sa.Integer),
    sa.column("bpmn_xml", sa.Text), sa.column("decisions", sa.JSON), sa.column("forms", sa.JSON),
    sa.column("sha256", sa.String),
)


def _hash(bpmn: str, decisions: list[str], forms: Any, form: Callable[[str], str]) -> str:
    document = json.dumps({"bpmn": form(bpmn), "decisions": sorted(map(form, decisions)), "forms": forms},
                          sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


def _rehash(form: Callable[[str], str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_versions).order_by(_versions.c.model_id, _versions.c.number)).all()
    taken: dict[int, set[str]] = {}
    for row in rows:
        taken.setdefault(row.model_id, set()).add(row.sha256)
    for row in rows:
        new = _hash(row.bpmn_xml, list(row.decisions or []), row.forms or {}, form)
        if new == row.sha256 or new in taken[row.model_id]:
            continue  # unchanged, or an earlier version already holds this content
        taken[row.model_id].discard(row.sha256)
        taken[row.model_id].add(new)
        connection.execute(sa.update(_versions).where(_versions.c.id == row.id).values(sha256=new))


def upgrade() -> None:
    _rehash(canonical_xml)


def downgrade() -> None:
    _rehash(lambda text: text)  # the hash over the text as stored, as before
