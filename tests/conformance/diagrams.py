"""One small diagram per BPMN element and pattern, with how to drive it and how it must end.

Each ``Case`` deploys as the process ``proc`` and either runs to its end (``refused`` is None) or must be
refused at deploy with a problem that contains ``refused``. ``docs/bpmn-support.md`` is the matrix these
diagrams back: a row there without a case here is a claim nobody checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.engine.builder import (
    HEADER,
    boundary_timer,
    diagram,
    end_event,
    flow,
    flows,
    gateway,
    script_task,
    start_event,
    timer,
    timer_catch,
    user_task,
)
from tests.engine.support import MESSAGES

CAMUNDA_NS = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '


@dataclass(frozen=True)
class Case:
    """A conformance diagram: deploy it, start it with ``data``, drive it; check the end."""

    name: str
    element: str  # the row of docs/bpmn-support.md it backs
    bpmn: str
    data: dict[str, Any] = field(default_factory=dict)
    messages: tuple[tuple[str, dict[str, Any], dict[str, Any]], ...] = ()  # (name, correlation keys, payload)
    decisions: tuple[str, ...] = ()
    refused: str | None = None  # a deploy that must fail: text its problem contains
    expect: Callable[[dict[str, Any]], bool] = lambda data: True  # on the final process data
    timers_first: bool = False  # let due timers fire before people complete their tasks (boundary timers)
    messages_first: bool = False  # deliver the messages before people complete their tasks (boundary messages)
    incident: str | None = None  # the run must stop with an incident of this type (a visible reason, not a hang)


def camunda(bpmn: str) -> str:
    return bpmn.replace(HEADER, HEADER.replace("xmlns:xsi=", CAMUNDA_NS + "xmlns:xsi="))


def chain(*elements: str, lanes: dict[str, list[str]] | None = None, body: str = "", before: str = "") -> str:
    """start -> each element id -> end, with the elements' XML in ``body``."""
    return diagram(start_event() + body + end_event() + flows("start", *elements, "end"), lanes, before=before)


def msg_catch(element_id: str) -> str:
    return (f'<bpmn:intermediateCatchEvent id="{element_id}"><bpmn:messageEventDefinition id="{element_id}_def" '
            'messageRef="msg_approval"/></bpmn:intermediateCatchEvent>\n')


def subprocess(element_id: str, inner: str, *, tag: str = "subProcess", extra: str = "") -> str:
    return f'<bpmn:{tag} id="{element_id}"{extra}>{inner}</bpmn:{tag}>\n'


def boundary(element_id: str, attached: str, definition: str, *, interrupting: bool = True) -> str:
    return (f'<bpmn:boundaryEvent id="{element_id}" attachedToRef="{attached}" '
            f'cancelActivity="{str(interrupting).lower()}">{definition}</bpmn:boundaryEvent>\n')


DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="risk_defs" name="Risk" namespace="http://x">
  <decision id="risk" name="Risk">
    <decisionTable id="risk_table" hitPolicy="UNIQUE">
      <input id="in_impact" label="Impact"><inputExpression id="in_impact_x" typeRef="string"><text>impact</text>
      </inputExpression></input>
      <output id="out_risk" label="Risk" name="risk" typeRef="string"/>
      <rule id="r1"><inputEntry id="r1_i"><text>"high"</text></inputEntry><outputEntry id="r1_o"><text>"high"</text>
      </outputEntry></rule>
      <rule id="r2"><inputEntry id="r2_i"><text>!= "high"</text></inputEntry><outputEntry id="r2_o"><text>"low"</text>
      </outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""

APPROVAL = ("approval", {"change_ref": "A"}, {"change_ref": "A", "ok": True})

CASES: list[Case] = [
    # -- tasks -----------------------------------------------------------------------------------------
    Case("plain_task_in_lane", "task (plain)", chain(
        "t", body='<bpmn:task id="t" name="Do it"/>\n', lanes={"Practitioner": ["t"]})),
    Case("plain_task_outside_lane", "task (plain)", chain("t", body='<bpmn:task id="t" name="Pass"/>\n')),
    Case("user_task_in_lane", "userTask", chain("u", body=user_task("u"), lanes={"Process Manager": ["u"]})),
    Case("user_task_without_lane", "userTask", chain("u", body=user_task("u"))),
    Case("user_task_candidate_groups", "userTask", camunda(chain(
        "u", body='<bpmn:userTask id="u" name="U" camunda:candidateGroups="manager"/>\n'))),
    Case("manual_task", "manualTask", chain("m", body='<bpmn:manualTask id="m" name="M"/>\n',
                                            lanes={"Practitioner": ["m"]})),
    Case("script_task", "scriptTask", chain("s", body=script_task("s", "x = 6 * 7")),
         expect=lambda data: data["x"] == 42),
    Case("script_with_print", "scriptTask", chain("s", body=script_task("s", "print('hi')")),
         refused="print()"),
    Case("service_task", "serviceTask", chain("svc", body=(
        '<bpmn:serviceTask id="svc" name="Check"><bpmn:extensionElements>'
        '<spiffworkflow:serviceTaskOperator id="check_changes_authorized" resultVariable="check">'
        '<spiffworkflow:parameters><spiffworkflow:parameter id="change_keys" type="list" value="keys"/>'
        '</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>'
        '</bpmn:serviceTask>\n')), data={"keys": []}, expect=lambda data: "check" in data),
    Case("service_task_without_implementation", "serviceTask",
         chain("svc", body='<bpmn:serviceTask id="svc" name="Svc"/>\n'), refused="serviceTaskOperator"),
    Case("external_service_task", "serviceTask (external)", camunda(chain(
        "ext", body='<bpmn:serviceTask id="ext" name="Ext" camunda:type="external" camunda:topic="work"/>\n')),
        expect=lambda data: data.get("worked") is True),
    Case("business_rule_task", "businessRuleTask", chain("rule", body=(
        '<bpmn:businessRuleTask id="rule" name="Risk"><bpmn:extensionElements>'
        '<spiffworkflow:calledDecisionId>risk</spiffworkflow:calledDecisionId></bpmn:extensionElements>'
        '</bpmn:businessRuleTask>\n')), data={"impact": "high"}, decisions=(DMN,),
        expect=lambda data: data["risk"] == "high"),
    Case("business_rule_task_camunda", "businessRuleTask", camunda(chain("rule", body=(
        '<bpmn:businessRuleTask id="rule" name="Risk" camunda:decisionRef="risk"/>\n'))),
        data={"impact": "low"}, decisions=(DMN,), expect=lambda data: data["risk"] == "low"),
    Case("receive_task", "receiveTask", chain("recv", before=MESSAGES, body=(
        '<bpmn:receiveTask id="recv" name="Wait" messageRef="msg_approval"/>\n')),
        data={"change_ref": "A"}, messages=(APPROVAL,)),
    Case("send_task", "sendTask", chain("send", before=MESSAGES, body=(
        '<bpmn:sendTask id="send" name="Notify" messageRef="msg_approval"/>\n')), data={"change_ref": "A"}),
    # -- gateways --------------------------------------------------------------------------------------
    Case("exclusive_gateway", "exclusiveGateway", diagram(
        start_event() + gateway("gw", default="f_no") + script_task("yes", "path = 'yes'")
        + script_task("no", "path = 'no'") + end_event("e1") + end_event("e2") + flows("start", "gw")
        + flow("gw", "yes", "amount > 10", "f_yes") + flow("gw", "no", element_id="f_no")
        + flows("yes", "e1") + flows("no", "e2")), data={"amount": 20}, expect=lambda data: data["path"] == "yes"),
    Case("inclusive_gateway", "inclusiveGateway", diagram(
        start_event() + '<bpmn:inclusiveGateway id="split"/><bpmn:inclusiveGateway id="join"/>\n'
        + script_task("a", "a = 1") + script_task("b", "b = 1") + end_event() + flows("start", "split")
        + flow("split", "a", "True") + flow("split", "b", "False") + flows("a", "join") + flows("b", "join")
        + flows("join", "end")), expect=lambda data: data.get("a") == 1 and "b" not in data),
    Case("parallel_gateway", "parallelGateway", diagram(
        start_event() + '<bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>\n'
        + user_task("a") + user_task("b") + end_event() + flows("start", "split") + flows("split", "a", "join")
        + flows("split", "b", "join") + flows("join", "end"), {"Practitioner": ["a", "b"]})),
    Case("complex_gateway", "complexGateway", chain("cg", body='<bpmn:complexGateway id="cg"/>\n'),
         refused="cannot run a complexGateway"),
    Case("event_based_gateway_message", "eventBasedGateway", diagram(
        start_event() + '<bpmn:eventBasedGateway id="gw"/>\n' + msg_catch("got")
        + timer_catch("late", "timeDuration", "PT1H") + end_event("e1") + end_event("e2") + flows("start", "gw")
        + flows("gw", "got", "e1") + flows("gw", "late", "e2"), before=MESSAGES),
        data={"change_ref": "A"}, messages=(APPROVAL,)),
    Case("event_based_gateway_timer", "eventBasedGateway", diagram(
        start_event() + '<bpmn:eventBasedGateway id="gw"/>\n' + msg_catch("got")
        + timer_catch("late", "timeDuration", "PT1H") + end_event("e1") + end_event("e2") + flows("start", "gw")
        + flows("gw", "got", "e1") + flows("gw", "late", "e2"), before=MESSAGES),
        data={"change_ref": "A"}, expect=lambda data: "ok" not in data),
    # -- events ----------------------------------------------------------------------------------------
    Case("none_start_and_end", "startEvent / endEvent (none)", chain()),
    Case("timer_start_event", "startEvent (timer)", diagram(
        start_event(inner=timer("timeDuration", "PT5M", "st")) + end_event() + flows("start", "end"))),
    Case("message_start_event", "startEvent (message)", diagram(
        start_event(inner='<bpmn:messageEventDefinition id="sm" messageRef="msg_approval"/>') + end_event()
        + flows("start", "end"), before=MESSAGES), refused="message start event"),
    Case("timer_intermediate", "intermediateCatchEvent (timer)", chain(
        "wait", body=timer_catch("wait", "timeDuration", "PT2H"))),
    Case("timer_boundary_interrupting", "boundaryEvent (timer)", diagram(
        start_event() + user_task("u") + boundary_timer("sla", "u", "timeDuration", "PT4H")
        + script_task("late", "late = True") + end_event("e1") + end_event("e2") + flows("start", "u", "e1")
        + flows("sla", "late", "e2"), {"Practitioner": ["u"]}), timers_first=True,
        expect=lambda data: data.get("late") is True),
    Case("timer_boundary_non_interrupting", "boundaryEvent (timer)", diagram(
        start_event() + user_task("u") + boundary_timer("remind", "u", "timeDuration", "PT4H", interrupting=False)
        + end_event("e1") + end_event("e2") + flows("start", "u", "e1") + flows("remind", "e2"),
        {"Practitioner": ["u"]}), timers_first=True),
    Case("message_boundary", "boundaryEvent (message)", diagram(
        start_event() + user_task("u") + boundary("answer", "u", '<bpmn:messageEventDefinition id="ad" '
                                                  'messageRef="msg_approval"/>')
        + script_task("answered", "via_message = True") + end_event("e1") + end_event("e2")
        + flows("start", "u", "e1") + flows("answer", "answered", "e2"), {"Practitioner": ["u"]},
        before=MESSAGES), data={"change_ref": "A"}, messages=(APPROVAL,), messages_first=True,
        expect=lambda data: data.get("via_message") is True),
    Case("message_catch_and_throw", "intermediateCatchEvent / intermediateThrowEvent (message)", chain(
        "throw", "got", before=MESSAGES, body=msg_catch("got")
        + '<bpmn:intermediateThrowEvent id="throw"><bpmn:messageEventDefinition id="thr" '
          'messageRef="msg_approval"/></bpmn:intermediateThrowEvent>\n'),
        data={"change_ref": "A"}, messages=(APPROVAL,)),
    Case("message_ref_missing", "intermediateThrowEvent (message)", chain("throw", body=(
        '<bpmn:intermediateThrowEvent id="throw"><bpmn:messageEventDefinition id="thr" messageRef="nope"/>'
        '</bpmn:intermediateThrowEvent>\n')), refused="does not define"),
    Case("signal_throw_and_catch", "signal events", diagram(
        '<bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>\n' + start_event()
        + '<bpmn:intermediateCatchEvent id="heard"><bpmn:signalEventDefinition id="hd" signalRef="go"/>'
          '</bpmn:intermediateCatchEvent>\n'
        + user_task("u") + '<bpmn:intermediateThrowEvent id="shout"><bpmn:signalEventDefinition id="sd" '
          'signalRef="go"/></bpmn:intermediateThrowEvent>\n' + end_event() + flows("start", "split")
        + flows("split", "heard", "join") + flows("split", "u", "shout", "join") + flows("join", "end"),
        {"Practitioner": ["u"]}, before='<bpmn:signal id="go" name="go"/>\n')),
    Case("signal_nobody_throws", "signal events", chain("heard", body=(
        '<bpmn:intermediateCatchEvent id="heard"><bpmn:signalEventDefinition id="hd" signalRef="go"/>'
        '</bpmn:intermediateCatchEvent>\n'), before='<bpmn:signal id="go" name="go"/>\n'), incident="Stalled"),
    Case("conditional_event", "conditional events", chain("cond", body=(
        '<bpmn:intermediateCatchEvent id="cond"><bpmn:conditionalEventDefinition id="cd"><bpmn:condition '
        'xsi:type="bpmn:tFormalExpression">ready</bpmn:condition></bpmn:conditionalEventDefinition>'
        '</bpmn:intermediateCatchEvent>\n')), refused="Conditional events are not supported"),
    Case("error_end_and_boundary", "error events", diagram(
        start_event() + subprocess("sub", start_event("s_start") + '<bpmn:endEvent id="s_fail">'
                                   '<bpmn:errorEventDefinition id="ed" errorRef="oops"/></bpmn:endEvent>'
                                   + flows("s_start", "s_fail"))
        + boundary("caught", "sub", '<bpmn:errorEventDefinition id="bd" errorRef="oops"/>')
        + script_task("handle", "handled = True") + end_event("e1") + end_event("e2") + flows("start", "sub", "e1")
        + flows("caught", "handle", "e2"), before='<bpmn:error id="oops" name="Oops" errorCode="OOPS"/>\n'),
        expect=lambda data: data.get("handled") is True),
    Case("escalation_end_and_boundary", "escalation events", diagram(
        start_event() + subprocess("sub", start_event("s_start") + '<bpmn:endEvent id="s_up">'
                                   '<bpmn:escalationEventDefinition id="xd" escalationRef="up"/></bpmn:endEvent>'
                                   + flows("s_start", "s_up"))
        + boundary("raised", "sub", '<bpmn:escalationEventDefinition id="bx" escalationRef="up"/>')
        + script_task("handle", "escalated = True") + end_event("e1") + end_event("e2")
        + flows("start", "sub", "e1") + flows("raised", "handle", "e2"),
        before='<bpmn:escalation id="up" name="Up" escalationCode="UP"/>\n'),
        expect=lambda data: data.get("escalated") is True),
    Case("terminate_end", "endEvent (terminate)", diagram(
        start_event() + '<bpmn:parallelGateway id="split"/>\n' + user_task("u")
        + '<bpmn:endEvent id="stop"><bpmn:terminateEventDefinition id="td"/></bpmn:endEvent>\n' + end_event()
        + flows("start", "split") + flows("split", "u", "end") + flows("split", "stop"),
        {"Practitioner": ["u"]})),
    Case("cancel_end_in_transaction", "transaction / cancel events", diagram(
        start_event() + subprocess("tx", start_event("t_start") + '<bpmn:endEvent id="t_cancel">'
                                   '<bpmn:cancelEventDefinition id="cd"/></bpmn:endEvent>'
                                   + flows("t_start", "t_cancel"), tag="transaction")
        + boundary("cancelled", "tx", '<bpmn:cancelEventDefinition id="bc"/>')
        + script_task("undo", "undone = True") + end_event("e1") + end_event("e2") + flows("start", "tx", "e1")
        + flows("cancelled", "undo", "e2")), expect=lambda data: data.get("undone") is True),
    # -- subprocesses and calls ------------------------------------------------------------------------
    Case("embedded_subprocess", "subProcess (embedded)", chain("sub", body=subprocess(
        "sub", start_event("s_start") + script_task("inner", "inner = 1") + end_event("s_end")
        + flows("s_start", "inner", "s_end"))), expect=lambda data: data.get("inner") == 1),
    Case("event_subprocess_timer", "subProcess (event)", diagram(
        start_event() + user_task("u") + end_event()
        + subprocess("on_timeout", start_event("ev_start", timer("timeDuration", "PT1H", "evt"))
                     + script_task("timed_out", "timed_out = True") + end_event("ev_end")
                     + flows("ev_start", "timed_out", "ev_end"), extra=' triggeredByEvent="true"')
        + flows("start", "u", "end"), {"Practitioner": ["u"]}), timers_first=True,
        expect=lambda data: data.get("timed_out") is True),
    Case("event_subprocess_error", "subProcess (event)", diagram(
        start_event() + script_task("fail", "raise_it = True") + '<bpmn:endEvent id="boom">'
        '<bpmn:errorEventDefinition id="bd" errorRef="oops"/></bpmn:endEvent>\n'
        + subprocess("on_error", start_event("er_start", '<bpmn:errorEventDefinition id="esd" errorRef="oops"/>')
                     + script_task("recover", "recovered = True") + end_event("er_end")
                     + flows("er_start", "recover", "er_end"), extra=' triggeredByEvent="true"')
        + flows("start", "fail", "boom"), before='<bpmn:error id="oops" name="Oops" errorCode="OOPS"/>\n'),
        expect=lambda data: data.get("recovered") is True),
    Case("ad_hoc_subprocess", "adHocSubProcess", chain("adhoc", body=(
        '<bpmn:adHocSubProcess id="adhoc"><bpmn:task id="inside"/></bpmn:adHocSubProcess>\n')),
        refused="Ad-hoc subprocesses are not supported"),
    Case("transaction_subprocess", "transaction", chain("tx", body=subprocess(
        "tx", start_event("t_start") + script_task("t_work", "done = True") + end_event("t_end")
        + flows("t_start", "t_work", "t_end"), tag="transaction")), expect=lambda data: data.get("done") is True),
    Case("call_activity", "callActivity", diagram(
        start_event() + '<bpmn:callActivity id="call" calledElement="child"/>\n' + end_event()
        + flows("start", "call", "end"))[:-len("</bpmn:definitions>\n")]
        + '<bpmn:process id="child" isExecutable="true">' + start_event("c_start")
        + script_task("c_work", "child_ran = True") + end_event("c_end") + flows("c_start", "c_work", "c_end")
        + "</bpmn:process>\n</bpmn:definitions>\n", expect=lambda data: data.get("child_ran") is True),
    Case("call_activity_to_a_non_executable_process", "callActivity", diagram(
        start_event() + '<bpmn:callActivity id="call" calledElement="child"/>\n' + end_event()
        + flows("start", "call", "end"))[:-len("</bpmn:definitions>\n")]
        + '<bpmn:process id="child" isExecutable="false">' + start_event("c_start") + end_event("c_end")
        + flows("c_start", "c_end") + "</bpmn:process>\n</bpmn:definitions>\n", refused="isExecutable"),
    Case("call_activity_calls_itself", "callActivity", chain(
        "call", body='<bpmn:callActivity id="call" calledElement="proc"/>\n'), refused="call itself"),
    Case("call_activity_missing_target", "callActivity", chain(
        "call", body='<bpmn:callActivity id="call" calledElement="elsewhere"/>\n'), refused="not in this document"),
    # -- multi-instance and loops ----------------------------------------------------------------------
    Case("multi_instance_parallel", "multi-instance (parallel)", chain("each", body=(
        '<bpmn:scriptTask id="each" scriptFormat="python"><bpmn:multiInstanceLoopCharacteristics>'
        '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>doubled</bpmn:loopDataOutputRef>'
        '<bpmn:inputDataItem id="item" name="item"/><bpmn:outputDataItem id="twice" name="twice"/>'
        '</bpmn:multiInstanceLoopCharacteristics><bpmn:script>twice = item * 2</bpmn:script></bpmn:scriptTask>\n')),
        data={"items": [1, 2, 3]}, expect=lambda data: data["doubled"] == [2, 4, 6]),
    Case("multi_instance_sequential_user", "multi-instance (sequential)", chain("review", body=(
        '<bpmn:userTask id="review" name="Review"><bpmn:multiInstanceLoopCharacteristics isSequential="true">'
        '<bpmn:loopCardinality>2</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>'
        '</bpmn:userTask>\n'), lanes={"Practitioner": ["review"]}),
        expect=lambda data: len(data["review_results"]) == 2),
    Case("standard_loop", "loop (standard)", chain("count", body=(
        '<bpmn:scriptTask id="count" scriptFormat="python"><bpmn:standardLoopCharacteristics>'
        '<bpmn:loopCondition>n &lt; 3</bpmn:loopCondition></bpmn:standardLoopCharacteristics>'
        '<bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>\n')), data={"n": 0},
        expect=lambda data: data["n"] == 3),
    # -- data ------------------------------------------------------------------------------------------
    Case("data_object", "dataObject", chain("write", "read", body=(
        '<bpmn:dataObject id="note"/><bpmn:dataObjectReference id="note_ref" dataObjectRef="note"/>\n'
        '<bpmn:scriptTask id="write" scriptFormat="python"><bpmn:dataOutputAssociation id="w_out">'
        '<bpmn:targetRef>note_ref</bpmn:targetRef></bpmn:dataOutputAssociation>'
        '<bpmn:script>note = "kept"</bpmn:script></bpmn:scriptTask>\n'
        '<bpmn:scriptTask id="read" scriptFormat="python"><bpmn:dataInputAssociation id="r_in">'
        '<bpmn:sourceRef>note_ref</bpmn:sourceRef><bpmn:targetRef>read</bpmn:targetRef></bpmn:dataInputAssociation>'
        '<bpmn:script>copy = note</bpmn:script></bpmn:scriptTask>\n')), expect=lambda data: data["copy"] == "kept"),
]
