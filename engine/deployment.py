"""Deploy-time checks: everything that can be wrong with a diagram is found before anything is stored.

Each problem names the BPMN element (and the line) so the author can go straight to it. The checks run
in order of dependency: XML, the BPMN schema, SpiffWorkflow's parser, then our own rules (lanes map to
roles, forms exist, scripts compile in the sandbox, timers parse, services exist).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from engine.errors import DeployError, Problem
from engine.models import HumanTask, ProcessModel, ProcessVersion
from engine.sandbox import compile_problems
from engine.services import ServiceRegistry
from engine.specs import (
    REQUESTER,
    LaneRoles,
    all_task_specs,
    is_human_task,
    parse_process,
    start_event,
    task_meta,
)
from engine.timers import check_cycle, literal_text, parse_duration
from forms import FormDefinition

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
# Bare names shaped like ISO 8601 (PT5X, R3/PT1Q) are typos of a timer literal, not process variables.
_LOOKS_ISO = re.compile(r"^(R\d*/.*|PT?\d[\dA-Z.,]*)$")
_ISO_EXAMPLES = {"timeDuration": "for example PT4H or P2D", "timeDate": "for example 2026-12-01T09:00:00Z",
                 "timeCycle": "for example R3/PT1H"}
FormLookup = Callable[[str], "FormDefinition | None"]
# SpiffWorkflow's parser looks elements up by walking the process, so its cost grows with the square of a
# diagram's size (a 4.9 MB diagram took over 10 minutes). The shipped diagrams are under 40 KB and 150
# elements; these bounds keep the worst case near a second on a 2-core machine.
MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_ELEMENTS = 2000  # elements with an id
MAX_INSTANCES = 200  # parallel or sequential multi-instance: the library's cost grows with its square


@dataclass(frozen=True)
class Deployable:
    """A diagram that passed every check, ready to be stored as a version."""

    process_id: str
    name: str
    bpmn_xml: str
    decisions: list[str]
    forms: dict[str, dict[str, Any]]
    start_role: str | None
    start_form_key: str | None
    sha256: str


def content_hash(bpmn_xml: str, decisions: list[str], forms: Mapping[str, Any]) -> str:
    """Identity of a version's content: same diagram, decisions and forms give the same hash."""
    document = json.dumps({"bpmn": bpmn_xml, "decisions": sorted(decisions), "forms": forms}, sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


def prepare_deployment(key: str, bpmn_xml: str, decisions: list[str], *, find_form: FormLookup,
                       lane_roles: LaneRoles, services: ServiceRegistry) -> Deployable:
    """Check a BPMN document; return what to store, or raise ``DeployError`` listing every problem."""
    checker = _Checker(bpmn_xml, decisions, find_form, lane_roles, services)
    deployable = checker.run(key)
    if checker.problems or deployable is None:
        raise DeployError(checker.problems)
    return deployable


class _Checker:
    def __init__(self, bpmn_xml: str, decisions: list[str], find_form: FormLookup, lane_roles: LaneRoles,
                 services: ServiceRegistry) -> None:
        self.bpmn_xml = bpmn_xml
        self.decisions = decisions
        self.find_form = find_form
        self.lane_roles = lane_roles
        self.services = services
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}

    def problem(self, message: str, element_id: str | None = None, line: int | None = None) -> None:
        if line is None and element_id is not None:
            line = self.lines.get(element_id)
        self.problems.append(Problem(message, element_id, line))

    def run(self, key: str) -> Deployable | None:
        if not self._check_sizes():
            return None
        document = self._parse_xml()
        if document is None:
            return None
        if len(self.lines) > MAX_ELEMENTS:
            self.problem(f"The document has {len(self.lines)} elements with an id; at most {MAX_ELEMENTS} are "
                         "allowed. Split the process into called processes.")
            return None
        self._check_schema(document)
        process_id = self._choose_process(document, key)
        self._check_decisions()
        if process_id is None or self.problems:
            return None
        try:
            spec, subprocess_specs = parse_process(process_id, self.bpmn_xml, self.decisions)
        except ValidationException as error:
            self.problem(_message(error), error.id or None, _line(error.line_number))
            return None
        except (SpiffWorkflowException, etree.LxmlError, ValueError, KeyError) as error:
            self.problem(f"SpiffWorkflow cannot parse the process: {_message(error)}")
            return None
        self._check_expressions(document)
        forms = self._check_human_tasks(spec, subprocess_specs)
        start = start_event(spec)
        start_meta = task_meta(start, self.lane_roles) if start is not None else None
        if start_meta is not None:
            self._check_lane(start_meta.element_id, start_meta.lane, required=False)
            self._check_form(start_meta.element_id, start_meta.form_key, forms)
        if self.problems:
            return None
        names = document.xpath(f"//bpmn:process[@id='{process_id}']/@name", namespaces=NS)
        self._check_length(process_id, "process id", process_id, ProcessVersion.process_id)
        if names:
            self._check_length(process_id, "process name", str(names[0]), ProcessModel.name)
        if self.problems:
            return None
        return Deployable(
            process_id=process_id,
            name=str(names[0]) if names else process_id,
            bpmn_xml=self.bpmn_xml,
            decisions=list(self.decisions),
            forms=forms,
            start_role=start_meta.role if start_meta else None,
            start_form_key=start_meta.form_key if start_meta else None,
            sha256=content_hash(self.bpmn_xml, self.decisions, forms),
        )

    # -- XML and schema ----------------------------------------------------------------------------

    def _check_sizes(self) -> bool:
        texts = [("The document", self.bpmn_xml)]
        texts += [(f"Decision table {index}", text) for index, text in enumerate(self.decisions, start=1)]
        for what, text in texts:
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > MAX_DOCUMENT_BYTES:
                self.problem(f"{what} has {size:,} bytes; at most {MAX_DOCUMENT_BYTES:,} are allowed.")
        return not self.problems

    def _parse_xml(self) -> Any:
        document = _parse_untrusted(self.bpmn_xml, lambda message, line: self.problem(message, line=line),
                                    "The document")
        if document is None:
            return None
        for element in document.iter():
            element_id = element.get("id") if isinstance(element.tag, str) else None
            if element_id:
                self.lines.setdefault(element_id, element.sourceline)
        return document

    def _check_schema(self, document: Any) -> None:
        schema = VALIDATOR.validator
        VALIDATOR.preprocess(document)
        try:
            if schema.validate(document):
                return
        except etree.LxmlError as error:  # a node the validator cannot handle at all
            self.problem(f"BPMN schema: the document cannot be validated: {error}")
            return
        for error in schema.error_log:
            self.problem(f"BPMN schema: {error.message}", self._element_at(document, error.line), error.line)

    def _element_at(self, document: Any, line: int) -> str | None:
        """The id of the element on ``line``, or of its nearest ancestor that has one."""
        for element in document.iter():
            if isinstance(element.tag, str) and element.sourceline == line:
                while element is not None and not element.get("id"):
                    element = element.getparent()
                return element.get("id") if element is not None else None
        return None

    def _choose_process(self, document: Any, key: str) -> str | None:
        executable = [p.get("id") for p in document.xpath("//bpmn:process", namespaces=NS)
                      if p.get("isExecutable", "false").lower() == "true"]
        if not executable:
            self.problem("The document has no executable process: set isExecutable=\"true\" on the process.")
            return None
        if key in executable:
            return key
        if len(executable) == 1:
            return executable[0]
        self.problem(f"The document has several executable processes ({', '.join(executable)}); "
                     f"name the one to deploy '{key}'.")
        return None

    def _check_decisions(self) -> None:
        for index, decision in enumerate(self.decisions, start=1):
            _parse_untrusted(decision, lambda message, line: self.problem(message, line=line),
                             f"Decision table {index}")

    # -- scripts, conditions, timers, messages, services -------------------------------------------

    def _check_expressions(self, document: Any) -> None:
        for script in document.xpath("//bpmn:scriptTask[@scriptFormat]", namespaces=NS):
            if script.get("scriptFormat").lower() not in ("python", "python3", "text/x-python"):
                self.problem(f"The script format '{script.get('scriptFormat')}' is not supported; "
                             "scripts are Python.", script.get("id"))
        for element_id, source, mode, what, first_line in _code_in(document):
            if not source.strip():
                if what == "script":
                    self.problem("The script task has no script.", element_id)
                continue
            for line, message in compile_problems(source, mode=mode):
                self.problem(f"The {what} does not compile in the sandbox: {message}", element_id,
                             _source_line(first_line, line))
        for node in document.xpath("//bpmn:loopCardinality", namespaces=NS):
            text = (node.text or "").strip()
            if text.isdigit() and int(text) > MAX_INSTANCES:
                self.problem(f"loopCardinality {text} is more than the {MAX_INSTANCES} instances a multi-instance "
                             "task may have.", _owner_id(node), node.sourceline)
        for timer in document.xpath("//bpmn:timerEventDefinition", namespaces=NS):
            self._check_timer(timer)
        for operator in document.xpath("//spiffworkflow:serviceTaskOperator", namespaces=NS):
            self._check_service(operator)

    def _check_timer(self, timer: Any) -> None:
        event_id = timer.getparent().get("id")
        kinds = [child for child in timer if isinstance(child.tag, str)]
        if not kinds:
            self.problem("The timer has no timeDate, timeDuration or timeCycle.", event_id)
            return
        for child in kinds:
            kind = etree.QName(child).localname
            text = (child.text or "").strip()
            if not text:
                self.problem(f"The timer's {kind} is empty.", event_id)
                continue
            literal = literal_text(text)
            if literal is None:
                problems = compile_problems(text, mode="eval")
                for line, message in problems:
                    self.problem(f"The timer's {kind} is neither ISO 8601 nor a valid expression: {message}",
                                 event_id, _source_line(child.sourceline, line))
                if not problems and (_is_constant(text) or _LOOKS_ISO.match(text.upper())):
                    # A constant (or a bare name shaped like one) can only be meant as ISO text, and is not.
                    self.problem(f"The timer's {kind} '{text}' does not parse as ISO 8601 "
                                 f"({_ISO_EXAMPLES[kind]}).", event_id, child.sourceline)
                continue
            try:
                if kind == "timeDuration":
                    parse_duration(literal)
                elif kind == "timeCycle":
                    check_cycle(literal)
                else:
                    TimerEventDefinition.get_datetime(literal)
            except Exception as error:  # the library raises bare Exception for bad dates
                self.problem(f"The timer's {kind} '{text}' does not parse: {error}", event_id,
                             child.sourceline)

    def _check_service(self, operator: Any) -> None:
        task = operator.getparent().getparent()
        element_id = task.get("id")
        name = operator.get("id")
        if self.services.get(name) is None:
            known = ", ".join(sorted(self.services.names())) or "none"
            self.problem(f"The service task calls '{name}', which is not a registered service "
                         f"(registered: {known}).", element_id)
            return
        parameters = [p.get("id") for p in operator.xpath(".//spiffworkflow:parameter", namespaces=NS)]
        for message in self.services.parameter_problems(name, parameters):
            self.problem(message, element_id)

    # -- people: lanes, forms, duties --------------------------------------------------------------

    def _check_human_tasks(self, spec: Any, subprocess_specs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        forms: dict[str, dict[str, Any]] = {}
        human = [ts for ts in all_task_specs(spec, subprocess_specs) if is_human_task(ts)]
        human_ids = {ts.bpmn_id for ts in human}
        for task_spec in human:
            meta = task_meta(task_spec, self.lane_roles)
            self._check_length(meta.element_id, "user task id", meta.element_id, HumanTask.element_id)
            self._check_length(meta.element_id, "user task name", meta.title, HumanTask.title)
            self._check_length(meta.element_id, "form key", meta.form_key or "", HumanTask.form_key)
            self._check_lane(meta.element_id, meta.lane, required=True)
            self._check_form(meta.element_id, meta.form_key, forms)
            for rule in meta.separation:
                if rule != REQUESTER and rule not in human_ids:
                    self.problem(f"separationOfDuties names '{rule}', which is neither 'requester' nor the id "
                                 "of a user task in this process.", meta.element_id)
            if meta.assign_to and meta.assign_to != REQUESTER and meta.assign_to not in human_ids:
                self.problem(f"assignTo names '{meta.assign_to}', which is neither 'requester' nor the id of "
                             "a user task in this process.", meta.element_id)
            if meta.due_in:
                try:
                    parse_duration(meta.due_in)
                except ValueError as error:
                    self.problem(f"dueIn: {error}.", meta.element_id)
        return forms

    def _check_length(self, element_id: str, what: str, text: str, column: Any) -> None:
        """Text the tables store must fit its column (SQLite would store it anyway; PostgreSQL refuses)."""
        limit = column.type.length
        if len(text) > limit:
            self.problem(f"The {what} has {len(text)} characters; at most {limit} are allowed.", element_id)

    def _check_lane(self, element_id: str, lane: str | None, *, required: bool) -> None:
        if lane is None:
            if required:
                self.problem("The user task is not in a lane; put it in the lane of the role that does it "
                             "(Process Owner, Process Manager or Practitioner).", element_id)
            return
        if self.lane_roles(lane) is None:
            self.problem(f"The lane '{lane}' maps to no role; name it Process Owner, Process Manager or "
                         "Practitioner.", element_id)

    def _check_form(self, element_id: str, form_key: str | None, forms: dict[str, dict[str, Any]]) -> None:
        if not form_key or form_key in forms:
            return
        form = self.find_form(form_key)
        if form is None:
            self.problem(f"The form '{form_key}' does not exist.", element_id)
            return
        forms[form_key] = form.to_dict()


def _parse_untrusted(text: str, problem: Callable[[str, int | None], None], what: str) -> Any:
    """Parse XML from a diagram's author: no network, no entity expansion, and no DTD at all.

    BPMN and DMN need no DTD; one that declares entities (even unexpanded ones) only serves to
    smuggle in references the schema validator cannot handle, so it is refused with a clear message.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        document = etree.fromstring(text.encode(), parser)
    except etree.XMLSyntaxError as error:
        problem(f"{what} is not well-formed XML: {error.msg}", error.lineno)
        return None
    docinfo = document.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        at = text.find("<!DOCTYPE")
        problem(f"{what} has a DOCTYPE declaration; BPMN and DMN need none, and entity declarations "
                "are not allowed", text.count("\n", 0, at) + 1 if at >= 0 else None)
        return None
    if any(isinstance(node, etree._Entity) for node in document.iter()):
        problem(f"{what} uses an entity reference; write the text itself", None)
        return None
    return document


def _code_in(document: Any) -> Iterator[tuple[str | None, str, str, str, int | None]]:
    """(element id, source, compile mode, what it is, its first line) for every piece of code."""
    for script in document.xpath("//bpmn:scriptTask", namespaces=NS):
        body = script.find("bpmn:script", NS)
        line = body.sourceline if body is not None else script.sourceline
        yield script.get("id"), (body.text or "") if body is not None else "", "exec", "script", line
    for tag, what in (("preScript", "pre-script"), ("postScript", "post-script")):
        for node in document.xpath(f"//spiffworkflow:{tag}", namespaces=NS):
            yield _owner_id(node), node.text or "", "exec", what, node.sourceline
    for condition in document.xpath("//bpmn:conditionExpression", namespaces=NS):
        yield condition.getparent().get("id"), condition.text or "", "eval", "condition", condition.sourceline
    for tag in ("loopCardinality", "completionCondition"):
        for node in document.xpath(f"//bpmn:{tag}", namespaces=NS):
            yield _owner_id(node), node.text or "", "eval", tag, node.sourceline
    for node in document.xpath("//bpmn:correlationPropertyRetrievalExpression/*", namespaces=NS):
        yield _owner_id(node), node.text or "", "eval", "correlation expression", node.sourceline
    for node in document.xpath("//spiffworkflow:parameter[@value]", namespaces=NS):
        yield _owner_id(node), node.get("value"), "eval", f"service parameter '{node.get('id')}'", node.sourceline


def _is_constant(expression: str) -> bool:
    try:
        ast.literal_eval(expression)
    except Exception:  # noqa: BLE001 - anything literal_eval refuses is not a constant
        return False
    return True


def _owner_id(node: Any) -> str | None:
    while node is not None and not node.get("id"):
        node = node.getparent()
    return node.get("id") if node is not None else None


def _source_line(first_line: int | None, script_line: int | None) -> int | None:
    """The document line of a script's line: the text starts on its element's opening line."""
    if first_line is None:
        return None
    return first_line + (script_line or 1) - 1


def _line(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _message(error: Exception) -> str:
    return str(error.args[0]) if error.args else type(error).__name__
