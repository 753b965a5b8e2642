"""The deploy checks docs/authoring-processes.md promises, one problem at a time: each names the element and
its line, says what is wrong, and a refused deploy stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import DeployError, PageRequest, ValidateDeployment
from engine.models import Event, ProcessVersion
from tests.engine.builder import (
    diagram,
    end_event,
    flow,
    flows,
    script_task,
    service_task,
    start_event,
    timer_catch,
    user_task,
)
from tests.engine.support import FORMS, deploy, start
from tests.engine.test_deploy import line_of, problems_of

ROOT = Path(__file__).resolve().parents[2]
RISK_DMN = (ROOT / "bpmn" / "change" / "change_risk.dmn").read_text()
DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def _around(*elements: str, lanes: dict[str, list[str]] | None = None) -> str:
    """start -> the given elements (each a (id, xml) pair joined by flows) -> end."""
    ids = [element_id for element_id, _xml in elements]
    return diagram(start_event() + "".join(xml for _id, xml in elements) + end_event()
                   + flows("start", *ids, "end"), lanes)


def _decide(decision_id: str) -> tuple[str, str]:
    return "decide", ('<bpmn:businessRuleTask id="decide" name="Decide"><bpmn:extensionElements>'
                      f"<spiffworkflow:calledDecisionId>{decision_id}</spiffworkflow:calledDecisionId>"
                      "</bpmn:extensionElements></bpmn:businessRuleTask>\n")


def _nothing_stored(engine) -> None:
    assert engine.list_models(None, PageRequest()).total == 0
    with engine.database.snapshot() as session:
        assert session.scalar(select(func.count()).select_from(ProcessVersion)) == 0
        assert session.scalar(select(func.count()).select_from(Event)) == 0


# -- decision tables ------------------------------------------------------------------------------


def test_a_decision_table_that_is_not_well_formed_is_refused_with_its_number_and_line(engine):
    broken = '<definitions xmlns="' + DMN_NS + '">\n  <decision id="x">\n</definitions>'

    problems = problems_of(engine, _around(_decide("change_risk")), decisions=(RISK_DMN, broken))

    [(element_id, line, message)] = problems
    assert (element_id, line) == (None, 3)  # the line in the decision table, which has no BPMN element
    assert message.startswith("Decision table 2 is not well-formed XML: Opening and ending tag mismatch")
    _nothing_stored(engine)


def test_a_decision_the_diagram_calls_must_be_deployed_with_it(engine):
    bpmn = _around(_decide("change_approval"))

    problems = problems_of(engine, bpmn, decisions=(RISK_DMN,))

    assert problems == [("decide", line_of(bpmn, 'id="decide"'),
                         "The business rule task calls the decision 'change_approval', which is not in the deployed "
                         "DMN (it has: change_risk). Deploy the DMN file with the diagram, or fix the decision id.")]
    _nothing_stored(engine)


NOT_DMN = "<notes>\n  <decision id='change_risk'>not a table</decision>\n</notes>"
NO_TABLE = f'<definitions xmlns="{DMN_NS}" id="d" name="D" namespace="x"><decision id="x" name="X"/></definitions>'


@pytest.mark.parametrize("document, decision", [(NOT_DMN, "change_risk"), (NO_TABLE, "x")],
                         ids=["not-dmn", "no-decision-table"])
def test_a_well_formed_document_that_is_no_decision_table_is_refused(engine, document, decision):
    problems = problems_of(engine, _around(_decide(decision)), decisions=(document,))

    assert len(problems) == 1
    _nothing_stored(engine)


def test_a_decision_table_the_library_cannot_load_is_named_in_the_problem(engine):
    not_dmn = problems_of(engine, _around(_decide("change_risk")), decisions=(NOT_DMN,))
    no_table = problems_of(engine, _around(_decide("x")), decisions=(NO_TABLE,))

    assert not_dmn == [(None, 1, "DMN document 1 is not DMN: it starts with <notes> in no namespace; a DMN "
                                 'document is <definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"> '
                                 "with a decision table inside.")]
    assert no_table == [("x", None, "The decision 'x' (DMN document 1, line 1) has no decisionTable: Changeflow "
                                    "runs decision tables only (no literal expressions or decision requirement "
                                    "graphs).")]


# -- scripts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("script_format", ["javascript", "groovy", "text/x-ruby"])
def test_a_script_format_other_than_python_is_refused(engine, script_format):
    task = ("calc", f'<bpmn:scriptTask id="calc" name="Calc" scriptFormat="{script_format}">'
                    "<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>\n")
    bpmn = _around(task)

    problems = problems_of(engine, bpmn)

    assert problems == [("calc", line_of(bpmn, 'id="calc"'),
                         f"The script format '{script_format}' is not supported; scripts are Python.")]
    _nothing_stored(engine)


@pytest.mark.parametrize("script_format", ["python", "Python3", "text/x-python"])
def test_the_python_script_formats_deploy(engine, script_format):
    task = ("calc", f'<bpmn:scriptTask id="calc" name="Calc" scriptFormat="{script_format}">'
                    "<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>\n")
    deploy(engine, _around(task))

    assert start(engine).data == {"x": 1}


@pytest.mark.parametrize("task", [
    script_task("calc", "  \n  "),
    '<bpmn:scriptTask id="calc" name="Calc" scriptFormat="python"><bpmn:script/></bpmn:scriptTask>\n',
    '<bpmn:scriptTask id="calc" name="Calc"/>\n',
], ids=["blank", "empty-element", "no-script-element"])
def test_a_script_task_without_a_script_is_refused(engine, task):
    bpmn = _around(("calc", task))

    problems = problems_of(engine, bpmn)

    assert problems == [("calc", line_of(bpmn, 'id="calc"'), "The script task has no script.")]
    _nothing_stored(engine)


def test_an_empty_pre_script_or_condition_is_no_problem(engine):
    # Only a script task needs code; an empty pre-script does nothing and an empty condition is the library's.
    bpmn = _around(("review", user_task("review", "Review", pre="  ")), lanes={"Practitioner": ["review"]})

    assert deploy(engine, bpmn).version == 1


def test_a_multi_instance_cardinality_that_does_not_compile_is_refused(engine):
    task = ("each", '<bpmn:task id="each" name="Each"><bpmn:multiInstanceLoopCharacteristics>'
                    "<bpmn:loopCardinality>n +</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"
                    "</bpmn:task>\n")
    bpmn = _around(task)

    problems = problems_of(engine, bpmn)

    assert problems == [("each", line_of(bpmn, 'id="each"'), "The loopCardinality does not compile in the sandbox: "
                                                              "SyntaxError: invalid syntax at statement: 'n +'")]


# -- timers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["timeDate", "timeDuration", "timeCycle"])
def test_a_timer_with_an_empty_expression_is_refused(engine, kind):
    bpmn = _around(("wait", timer_catch("wait", kind, "   ")))

    problems = problems_of(engine, bpmn)

    assert problems == [("wait", line_of(bpmn, 'id="wait"'), f"The timer's {kind} is empty.")]
    _nothing_stored(engine)


def test_a_timer_without_a_time_is_refused_at_its_event(engine):
    # SpiffWorkflow's parser refuses it before the engine's own check ("The timer has no timeDate, timeDuration
    # or timeCycle.") can run, so the library's wording is what the author sees.
    bpmn = _around(("wait", '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition id="wait_def"/>'
                            "</bpmn:intermediateCatchEvent>\n"))

    problems = problems_of(engine, bpmn)

    assert problems == [("wait", line_of(bpmn, 'id="wait"'), "Time Specification Error. Unknown Time Specification. ")]
    _nothing_stored(engine)


# -- services ---------------------------------------------------------------------------------------


def test_a_service_task_calling_an_unknown_service_is_refused_with_the_registered_ones(engine):
    bpmn = _around(("call", service_task("call", "open_ticket", {"title": "'x'"})))

    problems = problems_of(engine, bpmn)

    registered = ", ".join(engine.services.names())  # the ITSM services the engine fixture registers
    assert registered == ("cab_open_vote, cab_tally, check_changes_authorized, check_release_changes, "
                          "check_release_delivery, mark_change_authorized, record_release_outcome, schedule_change, "
                          "schedule_preapproved_change, settle_release, withdraw_change")
    assert problems == [("call", line_of(bpmn, 'id="call"'), "The service task calls 'open_ticket', which is not a "
                                                              f"registered service (registered: {registered}).")]
    _nothing_stored(engine)


@pytest.mark.parametrize("parameters, messages", [
    ({"keys": "[]"}, ["The service 'check_changes_authorized' has no parameter 'keys' (it takes: change_keys).",
                      "The service 'check_changes_authorized' needs the parameter 'change_keys'."]),
    ({}, ["The service 'check_changes_authorized' needs the parameter 'change_keys'."]),
    ({"change_keys": "[]", "context": "1"},
     ["The service 'check_changes_authorized' has no parameter 'context' (it takes: change_keys)."]),
], ids=["misspelt", "missing", "extra"])
def test_a_service_task_with_wrong_parameters_is_refused(engine, parameters, messages):
    bpmn = _around(("call", service_task("call", "check_changes_authorized", parameters)))

    problems = problems_of(engine, bpmn)

    line = line_of(bpmn, 'id="call"')
    assert problems == [("call", line, message) for message in messages]
    _nothing_stored(engine)


def test_optional_service_parameters_may_be_left_out_or_given(engine):
    required = {"change_keys": "[]", "outcome": "'deployed'"}
    for parameters in (required, {**required, "release_key": "'REL-000001'"}):
        bpmn = _around(("call", service_task("call", "record_release_outcome", parameters)))
        assert deploy(engine, bpmn).sha256


def test_a_service_parameter_expression_that_does_not_compile_is_refused(engine):
    bpmn = _around(("call", service_task("call", "check_changes_authorized", {"change_keys": "[key for"})))

    [(_element_id, line, message)] = problems_of(engine, bpmn)

    assert line == line_of(bpmn, 'id="change_keys"')
    assert message.startswith("The service parameter 'change_keys' does not compile in the sandbox: SyntaxError")
    _nothing_stored(engine)


def test_a_service_parameter_problem_names_the_service_task(engine):
    bpmn = _around(("call", service_task("call", "check_changes_authorized", {"change_keys": "[key for"})))

    [(element_id, _line, _message)] = problems_of(engine, bpmn)

    assert element_id == "call"


# -- user task properties ---------------------------------------------------------------------------


def _two_tasks(**properties: str) -> str:
    return _around(("draft", user_task("draft", "Draft")), ("review", user_task("review", "Review", **properties)),
                   lanes={"Practitioner": ["draft", "review"]})


@pytest.mark.parametrize("value, unknown", [("drafter", "drafter"), ("requester, draft, reveiw", "reveiw")])
def test_separation_of_duties_naming_an_unknown_task_is_refused(engine, value, unknown):
    bpmn = _two_tasks(separationOfDuties=value)

    problems = problems_of(engine, bpmn)

    assert problems == [("review", line_of(bpmn, 'id="review"'),
                         f"separationOfDuties names '{unknown}', which is neither 'requester' nor the id of a user "
                         "task in this process.")]
    _nothing_stored(engine)


def test_assign_to_naming_an_unknown_task_is_refused(engine):
    bpmn = _two_tasks(assignTo="drafter")

    problems = problems_of(engine, bpmn)

    assert problems == [("review", line_of(bpmn, 'id="review"'),
                         "assignTo names 'drafter', which is neither 'requester' nor the id of a user task in this "
                         "process.")]
    _nothing_stored(engine)


@pytest.mark.parametrize("properties", [
    {"separationOfDuties": "requester, draft"}, {"assignTo": "draft"}, {"assignTo": "requester"}, {"dueIn": "PT4H"},
])
def test_properties_naming_real_tasks_deploy(engine, properties):
    assert deploy(engine, _two_tasks(**properties)).version == 1


@pytest.mark.parametrize("due_in", ["2 days", "P2X", "tomorrow"])
def test_a_due_in_that_is_not_an_iso_duration_is_refused(engine, due_in):
    bpmn = _two_tasks(dueIn=due_in)

    problems = problems_of(engine, bpmn)

    assert problems == [("review", line_of(bpmn, 'id="review"'),
                         f"dueIn: '{due_in}' is not an ISO 8601 duration such as PT4H or P2D.")]
    _nothing_stored(engine)


# -- the document as a whole ------------------------------------------------------------------------


def test_several_executable_processes_need_the_key_to_choose_one(engine):
    second = '<bpmn:process id="beta" isExecutable="true"><bpmn:startEvent id="other_start"/></bpmn:process>\n'
    bpmn = diagram(start_event() + end_event() + flows("start", "end"), process_id="alpha").replace(
        "</bpmn:definitions>", second + "</bpmn:definitions>")

    assert problems_of(engine, bpmn) == [
        (None, None, "The document has several executable processes (alpha, beta); say which to deploy: send its "
                     "id as 'process_id', or deploy it under a key equal to its id in lowercase (for example "
                     "'alpha').")]
    _nothing_stored(engine)
    assert deploy(engine, bpmn, key="beta").key == "beta"  # naming one deploys it


def test_a_schema_error_on_an_element_without_an_id_names_its_nearest_parent_with_one(engine):
    task = ('<bpmn:userTask id="review" name="Review">\n'
            '  <bpmn:documentation colour="red">Check it</bpmn:documentation>\n</bpmn:userTask>\n')
    bpmn = _around(("review", task), lanes={"Practitioner": ["review"]})

    [(element_id, line, message)] = problems_of(engine, bpmn)

    assert (element_id, line) == ("review", line_of(bpmn, "colour="))
    assert message.startswith("BPMN schema: ") and "colour" in message
    _nothing_stored(engine)


def test_a_flow_to_a_missing_element_is_refused_by_the_parser_at_the_flow_source(engine):
    bpmn = diagram(start_event() + end_event() + flows("start", "end") + flow("start", "ghost"))

    [(element_id, line, message)] = problems_of(engine, bpmn)

    assert (element_id, line) == ("start", line_of(bpmn, 'id="start"'))
    assert "ghost" in message
    _nothing_stored(engine)


def test_validate_reports_the_same_problems_as_deploy(engine):
    bpmn = _two_tasks(assignTo="drafter", dueIn="soon")

    with pytest.raises(DeployError) as caught:
        engine.run(ValidateDeployment("proc", "change", bpmn, forms=FORMS), actor="olivia")

    assert [(p.element_id, p.message) for p in caught.value.problems] == [
        (element_id, message) for element_id, _line, message in problems_of(engine, bpmn)]
    assert len(caught.value.problems) == 2
