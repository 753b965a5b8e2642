"""Deploying a folder of diagrams: ``<root>/<practice>/<key>.bpmn`` plus the DMN tables they call.

The shipped processes live in ``bpmn/`` in this layout; the app deploys them at start-up and
``flask --app app deploy`` does it on demand. Unchanged files deploy as the versions they already are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from engine.commands import DeployVersion
from engine.context import Authorizer, allow_all
from engine.executor import Engine

_NS = {
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
}
_CAMUNDA_DECISION = "{http://camunda.org/schema/1.0/bpmn}decisionRef"


@dataclass(frozen=True)
class FolderDeployment:
    """The outcome for one diagram file."""

    path: Path
    key: str
    practice: str
    version: int
    created: bool
    warnings: tuple[str, ...] = ()  # "element (line n): message", for what does not stop it from running


def deploy_folder(engine: Engine, root: Path, *, actor: str, authorize: Authorizer = allow_all,
                  comment: str | None = None) -> list[FolderDeployment]:
    """Deploy every ``<practice>/<key>.bpmn`` under ``root``; raises the first ``DeployError``.
    ``comment`` goes with each new version (unchanged diagrams keep theirs)."""
    outcomes = []
    for practice_dir in sorted(path for path in root.iterdir() if path.is_dir()):
        tables = {path: path.read_text(encoding="utf-8") for path in sorted(practice_dir.glob("*.dmn"))}
        for diagram in sorted(practice_dir.glob("*.bpmn")):
            bpmn = diagram.read_text(encoding="utf-8")
            decisions = tuple(text for text in tables.values() if _defines_any(text, _called_decisions(bpmn)))
            command = DeployVersion(key=diagram.stem, practice=practice_dir.name, bpmn=bpmn, decisions=decisions,
                                    comment=comment)
            result = engine.run(command, actor=actor, authorize=authorize)
            warnings = tuple(f"{w['element_id'] or 'document'}"
                             + (f" (line {w['line']})" if w["line"] else "") + f": {w['message']}"
                             for w in result.warnings)
            outcomes.append(FolderDeployment(diagram, diagram.stem, practice_dir.name, result.version.version,
                                             result.created, warnings))
    return outcomes


def _called_decisions(bpmn: str) -> set[str]:
    try:
        document = etree.fromstring(bpmn.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return set()  # the deploy itself reports the broken XML
    called = {(node.text or "").strip() for node in document.iterfind(".//spiffworkflow:calledDecisionId", _NS)}
    called |= {node.get(_CAMUNDA_DECISION) for node in document.iterfind(".//bpmn:businessRuleTask", _NS)
               if node.get(_CAMUNDA_DECISION)}
    return called


def _defines_any(dmn: str, decision_ids: set[str]) -> bool:
    if not decision_ids:
        return False
    try:
        document = etree.fromstring(dmn.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return True  # include it, so the deploy reports the broken table
    return any(element.get("id") in decision_ids for element in document.iter("{*}decision"))
