"""Deploy rules for diagrams drawn elsewhere: executable processes, layout and timer warnings, clean problems,
and the wall-time budget that stops a runaway instead of hanging the request."""

from __future__ import annotations

import pytest

from engine import DeployError, DeployVersion, Engine, InstanceStatus, StartInstance
from engine.deployment import clean_message
from itsm import BUSINESS_KEY_PREFIXES
from tests.conformance.diagrams import DMN
from tests.engine.builder import diagram, end_event, flows, script_task, start_event
from tests.engine.support import FORMS, deploy, incidents, start, without_layout_note

SIMPLE = start_event() + end_event() + flows("start", "end")


def deployed(engine, bpmn: str, key: str = "proc", **options):
    return engine.run(DeployVersion(key, "change", bpmn, forms=FORMS, **options), actor="olivia")


def problems(engine, bpmn: str, key: str = "proc", **options) -> list:
    with pytest.raises(DeployError) as caught:
        deployed(engine, bpmn, key, **options)
    return caught.value.problems


def two_processes(first: str = "Order_Process", second: str = "Billing") -> str:
    one = diagram(SIMPLE, process_id=first)
    extra = (f'<bpmn:process id="{second}" isExecutable="true">' + start_event("s2") + end_event("e2")
             + flows("s2", "e2") + "</bpmn:process>\n")
    return one.replace("</bpmn:definitions>", extra + "</bpmn:definitions>")


def test_a_process_without_is_executable_is_executable(engine):
    result = deployed(engine, diagram(SIMPLE).replace(' isExecutable="true"', ""))

    assert result.version.process_id == "proc"
    assert start(engine).status is InstanceStatus.COMPLETED


def test_a_process_marked_not_executable_is_refused_with_what_to_set(engine):
    [problem] = problems(engine, diagram(SIMPLE, executable=False))

    assert 'set isExecutable="true"' in problem.message and "proc" in problem.message


def test_several_executable_processes_are_chosen_by_id_in_any_case(engine):
    bpmn = two_processes()

    [problem] = problems(engine, bpmn, key="orders")
    assert "'process_id'" in problem.message and "'order_process'" in problem.message

    assert deployed(engine, bpmn, key="order_process").version.process_id == "Order_Process"
    assert deployed(engine, bpmn, key="billing_run", process_id="Billing").version.process_id == "Billing"
    [unknown] = problems(engine, bpmn, key="x", process_id="Nope")
    assert "no process with the id 'Nope'" in unknown.message


def test_layout_schema_errors_are_warnings_with_element_and_line(engine):
    layout = ('<bpmndi:BPMNDiagram id="d1" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI">\n'
              '<bpmndi:BPMNPlane id="plane" bpmnElement="pool">\n<bpmndi:BPMNShape id="shape_start" '
              'bpmnElement="start"/>\n</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n')
    bpmn = diagram(SIMPLE).replace("</bpmn:definitions>", layout + "</bpmn:definitions>")

    result = deployed(engine, bpmn)

    [warning] = without_layout_note(result.warnings)
    assert warning["element_id"] == "shape_start" and "diagram layout" in warning["message"]
    assert warning["line"] == bpmn.splitlines().index(next(x for x in bpmn.splitlines() if "shape_start" in x)) + 1


def test_an_unused_timer_definition_is_a_warning(engine):
    unused = '<bpmn:timerEventDefinition id="lost"/>\n'
    bpmn = diagram(SIMPLE).replace("</bpmn:definitions>", unused + "</bpmn:definitions>")

    [warning] = without_layout_note(deployed(engine, bpmn).warnings)

    assert warning["element_id"] == "lost" and "never used" in warning["message"] and warning["line"]


def test_a_timer_with_documentation_is_read_past_it(engine):
    bpmn = diagram(start_event() + '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition id="td">'
                   '<bpmn:documentation>PT5M</bpmn:documentation><bpmn:timeDuration>PT5M</bpmn:timeDuration>'
                   '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>' + end_event()
                   + flows("start", "wait", "end"))

    deployed(engine, bpmn)

    assert start(engine).next_timer_at is not None


def test_decision_problems_name_the_decision(engine):
    bpmn = diagram(start_event() + '<bpmn:businessRuleTask id="rule"><bpmn:extensionElements>'
                   '<spiffworkflow:calledDecisionId>risk</spiffworkflow:calledDecisionId></bpmn:extensionElements>'
                   '</bpmn:businessRuleTask>' + end_event() + flows("start", "rule", "end"))
    broken = DMN.replace('<output id="out_risk" label="Risk" name="risk" typeRef="string"/>', "")

    [problem] = problems(engine, bpmn, decisions=(broken,))
    [missing] = problems(engine, bpmn.replace(">risk<", ">riks<"), decisions=(DMN,))

    assert problem.element_id == "risk" and "The decision 'risk'" in problem.message
    assert missing.element_id == "rule" and "'riks'" in missing.message and "it has: risk" in missing.message


def test_a_failing_decision_rule_names_the_decision_in_the_incident(engine):
    bpmn = diagram(start_event() + '<bpmn:businessRuleTask id="rule"><bpmn:extensionElements>'
                   '<spiffworkflow:calledDecisionId>risk</spiffworkflow:calledDecisionId></bpmn:extensionElements>'
                   '</bpmn:businessRuleTask>' + end_event() + flows("start", "rule", "end"))
    deployed(engine, bpmn, decisions=(DMN.replace('<text>"high"</text></inputEntry>', '<text>"high" +</text>'
                                                                                      '</inputEntry>'),))

    instance = start(engine, data={"impact": "high"})

    assert instance.status is InstanceStatus.ERROR
    assert instance.incident.element_id == "rule" and "(decision 'risk')" in instance.incident.message


@pytest.mark.parametrize("raw, cleaned", [
    ("Unexpected <Element {http://www.omg.org/spec/BPMN/20100524/MODEL}task at 0x7f3a2b> here",
     "Unexpected the task element here"),
    ('TypeError("NodeParser.raise_validation_exception() got an unexpected keyword argument \'node\'")',
     "The parser could not read this element; check it against BPMN 2.0 in your modeler."),
    ("KeyError('flowNodeRef')", "The parser could not read this element (flowNodeRef); check it against BPMN 2.0 "
                                "in your modeler."),
])
def test_library_internals_never_reach_a_problem(raw, cleaned):
    assert clean_message(raw) == cleaned


def test_a_camunda_expression_says_to_write_python(engine):
    bpmn = diagram(start_event() + '<bpmn:exclusiveGateway id="gw" default="f_no"/>' + end_event("e1")
                   + end_event("e2") + flows("start", "gw")
                   + '<bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="e1"><bpmn:conditionExpression '
                     'xsi:type="bpmn:tFormalExpression">${amount &gt; 100}</bpmn:conditionExpression>'
                     '</bpmn:sequenceFlow><bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="e2"/>')

    [problem] = problems(engine, bpmn)

    assert problem.element_id == "f_yes" and "Camunda (JUEL)" in problem.message and "'amount > 100'" in problem.message


def test_a_plain_task_outside_a_lane_passes_through_and_one_in_a_lane_waits_for_its_role(engine):
    bpmn = diagram(start_event() + '<bpmn:task id="auto"/><bpmn:task id="check" name="Check"/>' + end_event()
                   + flows("start", "auto", "check", "end"), {"Process Manager": ["check"]})
    deploy(engine, bpmn)

    instance = start(engine)

    assert [(task.element_id, task.role, task.form_key) for task in instance.tasks] == [("check", "manager", None)]


def test_a_runaway_is_stopped_by_the_wall_time_budget_with_an_incident(database, clock, shipped_forms):
    from roles.policy import role_for_lane

    engine = Engine(database, lane_roles=role_for_lane, clock=clock, find_form=shipped_forms.get,
                    command_time_limit=0.0, business_keys=BUSINESS_KEY_PREFIXES)
    bpmn = diagram(start_event() + script_task("one", "a = 1") + script_task("two", "b = 2") + end_event()
                   + flows("start", "one", "two", "end"))
    deploy(engine, bpmn)

    instance = engine.run(StartInstance("proc", {}), actor="alice")

    assert instance.status is InstanceStatus.ERROR
    [incident] = incidents(engine, instance.id)
    assert incident.error_type == "RunawayProcess" and "longer than 0 seconds" in incident.message




def test_a_process_that_calls_itself_is_stopped_by_the_budget_even_past_the_deploy_check(clock):
    """Deploy refuses call cycles; the budget is the second line, for steps that each get slower."""
    from SpiffWorkflow.bpmn import BpmnWorkflow

    from engine.runtime import LiveWorkflow
    from engine.sandbox import SandboxEnvironment
    from engine.scripting import ScriptEngine
    from engine.specs import ProcessBundle, parse_process

    bpmn = diagram(start_event() + '<bpmn:callActivity id="again" calledElement="proc"/>' + end_event()
                   + flows("start", "again", "end"))
    spec, subprocess_specs = parse_process("proc", bpmn, [])
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=ScriptEngine(SandboxEnvironment(clock)))
    run = LiveWorkflow(workflow, ProcessBundle(1, 1, "proc", "proc", spec, subprocess_specs, {}), time_budget=0.5)

    incident = run.advance()

    assert incident is not None and incident.error_type == "RunawayProcess"
    assert "calls itself" in incident.message
