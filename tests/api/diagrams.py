"""Small BPMN documents for the HTTP tests (the shipped diagrams cover the rest)."""

from __future__ import annotations

from tests.engine.support import MESSAGES

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="definitions" targetNamespace="http://changeflow.test/api">\n'
)


def document(process_id: str, body: str, *, before: str = "", lanes: str = "") -> str:
    return (HEADER
            + '<bpmn:collaboration id="collaboration">'
            + f'<bpmn:participant id="pool" name="Pool" processRef="{process_id}"/></bpmn:collaboration>\n'
            + before
            + f'<bpmn:process id="{process_id}" name="Test {process_id}" isExecutable="true">\n'
            + lanes + body + "</bpmn:process>\n</bpmn:definitions>\n")


# A user task for a practitioner, then the end: the smallest process with people in it.
REVIEW = document("review_process", (
    '<bpmn:startEvent id="start"/>\n'
    '<bpmn:userTask id="review" name="Review"/>\n'
    '<bpmn:endEvent id="end"/>\n'
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>\n'
    '<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>\n'
), lanes=('<bpmn:laneSet id="lanes"><bpmn:lane id="lane_p" name="Practitioner">'
          "<bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>review</bpmn:flowNodeRef>"
          "<bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>\n"))

# Two problems at once: a user task outside every lane, and one in a lane that maps to no role.
BROKEN = document("broken", (
    '<bpmn:startEvent id="start"/>\n'
    '<bpmn:userTask id="orphan" name="Orphan"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="formKey" value="no/such-form"/></spiffworkflow:properties>'
    '</bpmn:extensionElements></bpmn:userTask>\n'
    '<bpmn:userTask id="cab_review" name="CAB review"/>\n'
    '<bpmn:endEvent id="end"/>\n'
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="orphan"/>\n'
    '<bpmn:sequenceFlow id="f2" sourceRef="orphan" targetRef="cab_review"/>\n'
    '<bpmn:sequenceFlow id="f3" sourceRef="cab_review" targetRef="end"/>\n'
), lanes=('<bpmn:laneSet id="lanes"><bpmn:lane id="lane_cab" name="Steering Committee">'
          "<bpmn:flowNodeRef>cab_review</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>\n"))

# Waits for the message 'approval', correlated on change_ref (MESSAGES), then records the answer.
WAIT_FOR_APPROVAL = document("wait_for_approval", (
    '<bpmn:startEvent id="start"/>\n'
    '<bpmn:intermediateCatchEvent id="wait_approval" name="Wait for approval">'
    '<bpmn:messageEventDefinition id="wait_approval_def" messageRef="msg_approval">'
    "<bpmn:extensionElements><spiffworkflow:messageVariable>approval</spiffworkflow:messageVariable>"
    "</bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>\n"
    '<bpmn:scriptTask id="record" name="Record" scriptFormat="python">'
    "<bpmn:script>approved = approval['ok']</bpmn:script></bpmn:scriptTask>\n"
    '<bpmn:endEvent id="end"/>\n'
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_approval"/>\n'
    '<bpmn:sequenceFlow id="f2" sourceRef="wait_approval" targetRef="record"/>\n'
    '<bpmn:sequenceFlow id="f3" sourceRef="record" targetRef="end"/>\n'
), before=MESSAGES)

# A script that divides by ``divisor``: started with 0 it stops with an incident, until a retry corrects it.
DIVIDE = document("divide_process", (
    '<bpmn:startEvent id="start"/>\n'
    '<bpmn:scriptTask id="divide" name="Divide" scriptFormat="python">'
    "<bpmn:script>share = 100 / divisor</bpmn:script></bpmn:scriptTask>\n"
    '<bpmn:endEvent id="end"/>\n'
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="divide"/>\n'
    '<bpmn:sequenceFlow id="f2" sourceRef="divide" targetRef="end"/>\n'
))

# An external service task ("build"), for a practitioner's worker (no lane: the default role).
BUILD = document("build_process", (
    '<bpmn:startEvent id="start"/>\n'
    '<bpmn:serviceTask id="build" name="Build"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="externalTopic" value="build"/></spiffworkflow:properties>'
    '</bpmn:extensionElements></bpmn:serviceTask>\n'
    '<bpmn:endEvent id="end"/>\n'
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="build"/>\n'
    '<bpmn:sequenceFlow id="f2" sourceRef="build" targetRef="end"/>\n'
))
