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
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from engine.canonical import canonical_xml
from engine.errors import DeployError, Problem
from engine.interop import camunda_findings
from engine.layout import add_missing_layout
from engine.models import ExternalTask, HumanTask, ProcessModel, ProcessVersion
from engine.parsing import MAX_INSTANCES, ROLE_PROPERTY
from engine.sandbox import compile_problems
from engine.services import ServiceRegistry
from engine.specs import (
    REQUESTER,
    LaneRoles,
    RoleSource,
    all_task_specs,
    is_external_task,
    is_human_task,
    parse_process,
    start_event,
    task_meta,
)
from engine.timers import check_cycle, literal_text, parse_duration
from forms import FormDefinition

# The DMN versions the library's parser reads, oldest first.
DMN_NAMESPACES = ("http://www.omg.org/spec/DMN/20151101/dmn.xsd", "http://www.omg.org/spec/DMN/20180521/MODEL/",
                  "https://www.omg.org/spec/DMN/20191111/MODEL/")
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
# Diagram interchange: where shapes are drawn. Problems there never change what runs.
LAYOUT_NAMESPACES = ("http://www.omg.org/spec/BPMN/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC",
                     "http://www.omg.org/spec/DD/20100524/DI")
TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")
TIMER_HOSTS = ("startEvent", "intermediateCatchEvent", "boundaryEvent")
_LXML_REPR = re.compile(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-fA-F]+>")
_BYTES_REPR = re.compile(r"b'<[^']*'|b\"<[^\"]*\"")
_JUEL = re.compile(r"^[$#]\{(.*)\}$", re.S)
_PYTHON_CRASH = re.compile(r"^(\w+(Error|Exception))\((.*)\)$", re.S)
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
    default_role: str | None = None
    warnings: tuple[Problem, ...] = ()


def content_hash(bpmn_xml: str, decisions: list[str], forms: Mapping[str, Any]) -> str:
    """Identity of a version's content: same diagram, decisions and forms give the same hash.

    The diagram and the decision tables count by their canonical XML (``engine.canonical``): a modeler's
    re-save that only re-indents the file or reorders attributes is the same content.
    """
    document = json.dumps({"bpmn": canonical_xml(bpmn_xml), "decisions": sorted(map(canonical_xml, decisions)),
                           "forms": forms}, sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


def prepare_deployment(key: str, bpmn_xml: str, decisions: list[str], *, find_form: FormLookup,
                       lane_roles: LaneRoles, services: ServiceRegistry, default_role: str | None = None,
                       process_id: str | None = None) -> Deployable:
    """Check a BPMN document; return what to store, or raise ``DeployError`` listing every problem.

    ``default_role`` is the role of user tasks that neither a lane nor an attribute gives one (a warning
    says so); ``process_id`` names the process to deploy when the document has several.
    """
    checker = _Checker(bpmn_xml, decisions, find_form, lane_roles, services)
    checker.default_role = default_role
    deployable = checker.check(key, process_id)
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
        self.warnings: list[Problem] = []
        self.lines: dict[str, int] = {}
        self.default_role: str | None = None

    def problem(self, message: str, element_id: str | None = None, line: int | None = None) -> None:
        if line is None and element_id is not None:
            line = self.lines.get(element_id)
        self.problems.append(Problem(clean_message(message), element_id, line))

    def warn(self, message: str, element_id: str | None = None, line: int | None = None) -> None:
        """Something the author should know that does not stop the diagram from running."""
        if line is None and element_id is not None:
            line = self.lines.get(element_id)
        self.warnings.append(Problem(clean_message(message), element_id, line))

    def check(self, key: str, wanted: str | None = None) -> Deployable | None:
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
        process_id = self._choose_process(document, key, wanted)
        self._check_decisions()
        if process_id is not None:
            self._check_calls(document, process_id)
        if self.default_role is not None and self.lane_roles(self.default_role) is None:
            self.problem(f"The default role '{self.default_role}' is not a role; use owner, manager or "
                         "practitioner.")
        if process_id is None or self.problems:
            return None
        try:
            spec, subprocess_specs = parse_process(process_id, self.bpmn_xml, self.decisions)
        except ValidationException as error:
            message = _message(error)
            if message.startswith("There is no support implemented for this task type"):
                found = document.xpath(f"//*[@id='{error.id}']") if error.id else []
                kind = etree.QName(found[0]).localname if found else "this"
                message = (f"Changeflow cannot run a {kind} element; docs/bpmn-support.md lists what runs (for a "
                           "complex gateway, use an inclusive or exclusive gateway).")
            self.problem(message, error.id or None, _line(error.line_number))
            return None
        except Exception as error:  # noqa: BLE001 - any parser crash is a diagram the parser cannot read
            self.problem(f"SpiffWorkflow cannot parse the process ({_message(error)}); check the diagram "
                         "against BPMN 2.0 in your modeler.", process_id)
            return None
        self._check_expressions(document)
        self._check_unsupported(document)
        for finding in camunda_findings(document, self.lane_roles):
            self.warn(finding.message, finding.element_id, finding.line)
        forms = self._check_human_tasks(spec, subprocess_specs)
        start = start_event(spec)
        start_meta = task_meta(start, self.lane_roles) if start is not None else None
        if start_meta is not None:
            self._check_lane(start_meta.element_id, start_meta.lane)
            self._check_form(start_meta.element_id, start_meta.form_key, forms)
        if self.problems:
            return None
        names = document.xpath(f"//bpmn:process[@id='{process_id}']/@name", namespaces=NS)
        self._check_length(process_id, "process id", process_id, ProcessVersion.process_id)
        if names:
            self._check_length(process_id, "process name", str(names[0]), ProcessModel.name)
        if self.problems:
            return None
        bpmn_xml = self._laid_out()
        return Deployable(
            process_id=process_id,
            name=str(names[0]) if names else process_id,
            bpmn_xml=bpmn_xml,
            decisions=list(self.decisions),
            forms=forms,
            start_role=start_meta.role if start_meta and start_meta.lane else None,
            start_form_key=start_meta.form_key if start_meta else None,
            sha256=content_hash(bpmn_xml, self.decisions, forms),
            default_role=self.default_role,
            warnings=tuple(self.warnings),
        )

    def _laid_out(self) -> str:
        """The document to store: with a layout drawn for what has none, so that it opens in a modeler."""
        layout = add_missing_layout(self.bpmn_xml)
        if layout.changed:
            more = len(layout.drawn) - 8
            shown = ", ".join(layout.drawn[:8]) + (f" and {more} more" if more > 0 else "")
            self.warn(f"The diagram had no layout for {len(layout.drawn)} element(s) ({shown}); Changeflow drew "
                      "them so that the stored version opens in a modeler. Arrange them there and deploy again.")
        return layout.xml

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
        except etree.LxmlError as failure:  # a node the validator cannot handle at all
            self.problem(f"BPMN schema: the document cannot be validated: {failure}")
            return
        for error in schema.error_log:
            element = self._element_on(document, error.line)
            element_id = _owner_id(element) if element is not None else None
            if element is not None and etree.QName(element).namespace in LAYOUT_NAMESPACES:
                self.warn(f"BPMN schema, in the diagram layout (ignored when running): {error.message}",
                          element_id, error.line)
            else:
                self.problem(f"BPMN schema: {error.message}", element_id, error.line)

    def _element_on(self, document: Any, line: int) -> Any:
        """The first element that starts on ``line``."""
        for element in document.iter():
            if isinstance(element.tag, str) and element.sourceline == line:
                return element
        return None

    def _choose_process(self, document: Any, key: str, wanted: str | None) -> str | None:
        # Without the attribute a process is executable, as the library and Camunda read it.
        processes = document.xpath("//bpmn:process", namespaces=NS)
        executable = [p.get("id") for p in processes if p.get("isExecutable", "true").lower() == "true"]
        if wanted is not None:
            if wanted in executable:
                return wanted
            if wanted in [p.get("id") for p in processes]:
                self.problem(f"The process '{wanted}' is not executable: set isExecutable=\"true\" on it.", wanted)
                return None
            self.problem(f"The document has no process with the id '{wanted}' (it has: "
                         f"{', '.join(p.get('id') for p in processes) or 'none'}).")
            return None
        if not executable:
            ids = ", ".join(p.get("id") for p in processes)
            self.problem("The document has no executable process: set isExecutable=\"true\" on the process to run "
                         f"({ids or 'there is none'}).")
            return None
        matching = [process_id for process_id in executable if process_id.lower() == key.lower()]
        if matching:
            return str(matching[0])
        if len(executable) == 1:
            return str(executable[0])
        self.problem(f"The document has several executable processes ({', '.join(executable)}); say which "
                     "to deploy: send its id as 'process_id', or deploy it under a key equal to its id in "
                     f"lowercase (for example '{executable[0].lower()}').")
        return None

    def _check_calls(self, document: Any, process_id: str) -> None:
        """Every call activity the process reaches calls a process of the document, and none calls back."""
        defined = {p.get("id") for p in document.xpath("//bpmn:process", namespaces=NS)}
        calls: dict[str, list[tuple[str, str]]] = {}
        for activity in document.xpath("//bpmn:callActivity", namespaces=NS):
            owner = activity.xpath("ancestor::bpmn:process[1]", namespaces=NS)
            target = (activity.get("calledElement") or "").strip()
            if not target:
                self.problem("The call activity names no process to call: set calledElement to a process id.",
                             activity.get("id"))
                continue
            if target not in defined:
                self.problem(f"The call activity calls the process '{target}', which is not in this document "
                             f"(it has: {', '.join(sorted(defined))}). Put the called process in the same file.",
                             activity.get("id"))
                continue
            if owner:
                calls.setdefault(owner[0].get("id"), []).append((activity.get("id"), target))
        # A cycle would start instances within instances without end: find one reachable from the process.
        path: list[str] = []

        def visit(process: str) -> bool:
            path.append(process)
            for activity_id, target in calls.get(process, []):
                if target in path:
                    cycle = " -> ".join([*path[path.index(target):], target])
                    self.problem(f"The call activity makes the process call itself ({cycle}); an instance would "
                                 "never end. Remove the call or call another process.", activity_id)
                    return True
                if visit(target):
                    return True
            path.pop()
            return False

        visit(process_id)

    def _check_unsupported(self, document: Any) -> None:
        """Elements the engine accepts from the parser but cannot drive to an end: refused with the reason."""
        for adhoc in document.xpath("//bpmn:adHocSubProcess", namespaces=NS):
            self.problem("Ad-hoc subprocesses are not supported: nothing lets people pick which of its tasks to do. "
                         "Use an embedded subprocess with a gateway, or parallel user tasks.", adhoc.get("id"))
        for event in document.xpath("//bpmn:*[bpmn:conditionalEventDefinition]", namespaces=NS):
            self.problem("Conditional events are not supported: nothing re-evaluates their condition while the "
                         "instance waits. Use an exclusive gateway, or a timer that checks again.", event.get("id"))
        for start in document.xpath("//bpmn:process/bpmn:startEvent[bpmn:messageEventDefinition]", namespaces=NS):
            self.problem("A message start event cannot start instances here: messages are delivered only to "
                         "instances that wait for them. Use a none start event and start instances with "
                         "POST /api/instances (its data carries what the message would).", start.get("id"))

    def _check_decisions(self) -> None:
        for index, decision in enumerate(self.decisions, start=1):
            document = _parse_untrusted(decision, lambda message, line: self.problem(message, line=line),
                                        f"Decision table {index}")
            if document is not None:
                self._check_decision_document(index, decision, document)

    def _check_decision_document(self, index: int, text: str, document: Any) -> None:
        """Each DMN document holds one decision with an id, whose table the library can read; the problem
        names the decision (and its line in the DMN document)."""
        where = f"DMN document {index}"
        root = etree.QName(document)
        if root.localname != "definitions" or root.namespace not in DMN_NAMESPACES:
            self.problem(f"{where} is not DMN: it starts with <{root.localname}> in "
                         f"{root.namespace and repr(root.namespace) or 'no namespace'}; a DMN document is "
                         f"<definitions xmlns=\"{DMN_NAMESPACES[-1]}\"> with a decision table inside.",
                         line=document.sourceline)
            return
        decisions = [node for node in document.iter() if isinstance(node.tag, str)
                     and etree.QName(node).localname == "decision"]
        if not decisions:
            self.problem(f"{where} holds no decision.")
            return
        if len(decisions) > 1:
            ids = ", ".join(str(node.get("id")) for node in decisions)
            self.problem(f"{where} holds several decisions ({ids}); put each decision in a DMN document of its own.",
                         decisions[1].get("id"))
            return
        decision_id = decisions[0].get("id")
        if not decision_id:
            self.problem(f"The decision '{decisions[0].get('name') or '(unnamed)'}' ({where}, line "
                         f"{decisions[0].sourceline}) has no id: business rule tasks call decisions by id.")
            return
        if not any(etree.QName(child).localname == "decisionTable" for child in decisions[0]
                   if isinstance(child.tag, str)):
            self.problem(f"The decision '{decision_id}' ({where}, line {decisions[0].sourceline}) has no "
                         "decisionTable: Changeflow runs decision tables only (no literal expressions or "
                         "decision requirement graphs).", decision_id)
            return
        parser = BpmnDmnParser()
        try:
            parser.add_dmn_str(text.encode())
            parser.get_engine(decision_id, None)
        except Exception as error:  # noqa: BLE001 - any failure to read the table is the author's to fix
            line = getattr(error, "line_number", None) or decisions[0].sourceline
            self.problem(f"The decision '{decision_id}' ({where}, line {line}) cannot be read "
                         f"({_message(error)}); check that its decision table has inputs, an output and rules.",
                         decision_id)

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
            juel = _JUEL.match(source.strip())
            if juel is not None:
                # Camunda's expression language: say what to write instead of a Python syntax error.
                inner = juel.group(1).strip()
                self.problem(f"The {what} '{source.strip()}' is a Camunda (JUEL) expression; Changeflow evaluates "
                             f"Python: write it as {inner!r} without ${{...}} (and 'and'/'or'/'not' for "
                             "&&/||/!).", element_id, first_line)
                continue
            problems = compile_problems(source, mode=mode)
            for line, message in problems:
                self.problem(f"The {what} does not compile in the sandbox: {message}", element_id,
                             _source_line(first_line, line))
            if not problems:
                for line in _print_calls(source):
                    self.problem(f"The {what} calls print(), which scripts cannot use: nobody would see the "
                                 "output. Put the value in a variable instead; the instance's data shows it.",
                                 element_id, _source_line(first_line, line))
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
        host = timer.getparent()
        event_id = _owner_id(host)
        kinds = [child for child in timer if isinstance(child.tag, str) and etree.QName(child).localname in TIMER_KINDS]
        if etree.QName(host).localname not in TIMER_HOSTS:
            # At the document's top level or under an element that never waits: nothing reads it.
            self.warn(f"The timer definition under {etree.QName(host).localname} '{event_id}' is never used "
                      "(only start, intermediate catch and boundary events wait for timers).",
                      timer.get("id") or event_id, timer.sourceline)
            return
        if len(host.xpath("./bpmn:*[substring(local-name(), string-length(local-name()) - 14) = "
                          "'EventDefinition']", namespaces=NS)) > 1 and not kinds:
            self.warn("The event has an empty timer definition beside its other event definition; the empty "
                      "one is ignored.", event_id, timer.sourceline)
            return
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
        for external in [ts for ts in all_task_specs(spec, subprocess_specs) if is_external_task(ts)]:
            meta = task_meta(external, self.lane_roles, self.default_role)
            self._check_lane(meta.element_id, meta.lane)
            self._check_length(meta.element_id, "external task topic", meta.topic or "", ExternalTask.topic)
            self._check_form(meta.element_id, meta.form_key, forms)  # a worker's variables are checked against it
        human = [ts for ts in all_task_specs(spec, subprocess_specs) if is_human_task(ts)]
        human_ids = {ts.bpmn_id for ts in human}
        for task_spec in human:
            meta = task_meta(task_spec, self.lane_roles, self.default_role)
            self._check_length(meta.element_id, "user task id", meta.element_id, HumanTask.element_id)
            self._check_length(meta.element_id, "user task name", meta.title, HumanTask.title)
            self._check_length(meta.element_id, "form key", meta.form_key or "", HumanTask.form_key)
            self._check_lane(meta.element_id, meta.lane)
            if meta.role_source is RoleSource.DEFAULT:
                named = (f" ({meta.role_hint} names no role)" if meta.role_hint else "")
                self.warn(f"The task '{meta.title}' is in no lane and names no role{named}, so it goes to the "
                          f"model's default role, {meta.role}. Put it in a lane, or set camunda:candidateGroups "
                          f"or the property '{ROLE_PROPERTY}' to owner, manager or practitioner.",
                          meta.element_id)
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

    def _check_lane(self, element_id: str, lane: str | None) -> None:
        if lane is None:
            return
        if self.lane_roles(lane) is None:
            self.problem(f"The lane '{lane}' maps to no role; name it Process Owner, Process Manager, "
                         "Practitioner or Change Advisory Board.", element_id)

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
        # a parameter's (and its operator's) id is a name: the problem belongs to the service task
        yield _bpmn_owner_id(node), node.get("value"), "eval", f"service parameter '{node.get('id')}'", \
            node.sourceline


def _print_calls(source: str) -> list[int]:
    """The lines of the source that call print()."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name) and node.func.id == "print"]


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


def _bpmn_owner_id(node: Any) -> str | None:
    """The id of the nearest BPMN element around ``node`` (extension elements' ids are names, not elements)."""
    node = node.getparent()
    while node is not None and not (etree.QName(node).namespace == NS["bpmn"] and node.get("id")):
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
    text = str(error.args[0]) if error.args else type(error).__name__
    not_executable = _NOT_EXECUTABLE.match(text)
    if not_executable:
        return (f"The process '{not_executable.group(1)}' is called by a call activity but is not executable: set "
                "isExecutable=\"true\" on it.")
    missing_decision = _NO_DECISION.match(text)
    if missing_decision:
        return (f"The business rule task calls the decision '{missing_decision.group(1)}', which is not in the "
                f"deployed DMN (it has: {missing_decision.group(2)}). Deploy the DMN file with the diagram, or "
                "fix the decision id.")
    return _LIBRARY_MESSAGES.get(text, text)


_NOT_EXECUTABLE = re.compile(r"^Process (\S+) is not executable\.?$")
_NO_DECISION = re.compile(r'^No DMN Diagram available with id "([^"]*)", Available DMN ids are: ?(.*)$')


# The library's terse validation messages, said so that a modeler user knows what to change.
_LIBRARY_MESSAGES = {
    f"Expected a{'n' if kind[0] in 'AEIOU' else ''} {kind} node": (
        f"The {kind.lower()} event definition refers to a {kind.lower()} that the document does not define: its "
        f"{kind.lower()}Ref must be the id of a bpmn:{kind.lower()} element of this file.")
    for kind in ("Message", "Signal", "Error", "Escalation")
} | {"Expected an error node": "The error event definition refers to an error that the document does not define: "
                               "its errorRef must be the id of a bpmn:error element of this file."}


def clean_message(message: str) -> str:
    """A problem's text without Python or lxml internals: no object reprs, no raw XML bytes, no bare
    exception reprs (the library wraps unexpected errors as ``repr(error)``)."""
    text = _LXML_REPR.sub(lambda match: f"the {match.group(1)} element", message)
    text = _BYTES_REPR.sub("the element", text)
    crash = _PYTHON_CRASH.match(text.strip())
    if crash:
        inner = crash.group(3).strip().strip("'\"")
        text = ("The parser could not read this element"
                + (f" ({inner})" if inner and "()" not in inner and " object" not in inner else "")
                + "; check it against BPMN 2.0 in your modeler.")
    return text
