"""Deploy bounds what the engine would otherwise do without limit while holding the write lock (issue 9,
finding 5): the size of a diagram, the number of its elements, multi-instance cardinality, and parsing
itself now happens before the write transaction starts."""

from __future__ import annotations

import threading

import pytest

from engine import DeployError, DeployVersion, InstanceStatus, StartInstance, ValidateDeployment
from engine import deployment as deployment_module
from engine.deployment import MAX_DOCUMENT_BYTES, MAX_ELEMENTS, MAX_INSTANCES
from tests.engine.builder import diagram, end_event, flows, script_task, start_event
from tests.engine.support import FORMS, deploy, instance_row, start

SMALL = diagram(start_event() + script_task("work", "done = True") + end_event() + flows("start", "work", "end"))


def multi_instance(cardinality: str) -> str:
    return diagram(
        start_event()
        + '<bpmn:scriptTask id="work" scriptFormat="python"><bpmn:multiInstanceLoopCharacteristics>'
        + f'<bpmn:loopCardinality xsi:type="bpmn:tFormalExpression">{cardinality}</bpmn:loopCardinality>'
        + "</bpmn:multiInstanceLoopCharacteristics><bpmn:script>done = True</bpmn:script></bpmn:scriptTask>\n"
        + end_event() + flows("start", "work", "end"))


def problems_of(engine, bpmn: str) -> list[str]:
    with pytest.raises(DeployError) as caught:
        deploy(engine, bpmn)
    return [problem.message for problem in caught.value.problems]


def test_a_document_over_the_size_limit_is_refused_before_parsing(engine):
    padding = "<!-- " + "x" * MAX_DOCUMENT_BYTES + " -->\n"
    [message] = problems_of(engine, SMALL.replace("<bpmn:process", padding + "<bpmn:process", 1))

    assert "at most 1,048,576 are allowed" in message


def test_a_document_with_too_many_elements_is_refused(engine):
    ids = [f"t{index}" for index in range(MAX_ELEMENTS)]
    body = start_event() + "".join(f'<bpmn:task id="{i}"/>' for i in ids) + end_event() + flows("start", "end")

    [message] = problems_of(engine, diagram(body))

    assert f"at most {MAX_ELEMENTS} are allowed" in message


def test_a_literal_cardinality_over_the_limit_is_refused(engine):
    [message] = problems_of(engine, multi_instance(str(MAX_INSTANCES + 1)))

    assert f"more than the {MAX_INSTANCES} instances" in message


def test_a_computed_cardinality_over_the_limit_is_an_incident(engine):
    deploy(engine, multi_instance("count"))

    instance = start(engine, data={"count": 10 ** 6})

    assert instance.status is InstanceStatus.ERROR
    assert f"more than the {MAX_INSTANCES} instances" in instance.incident.message
    deploy(engine, multi_instance("count"), key="fine")
    assert start(engine, "fine", data={"count": 3}).status is InstanceStatus.COMPLETED


def over_a_collection(sequential: bool) -> str:
    """A script task run once per item of ``items`` (which the data brings), gathering ``doubled``."""
    return diagram(
        start_event()
        + '<bpmn:scriptTask id="work" scriptFormat="python"><bpmn:multiInstanceLoopCharacteristics '
        + f'isSequential="{str(sequential).lower()}"><bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>'
        + "<bpmn:loopDataOutputRef>doubled</bpmn:loopDataOutputRef>"
        + '<bpmn:inputDataItem id="item" name="item"/><bpmn:outputDataItem id="twice" name="twice"/>'
        + "</bpmn:multiInstanceLoopCharacteristics><bpmn:script>twice = item * 2</bpmn:script></bpmn:scriptTask>\n"
        + end_event() + flows("start", "work", "end"))


@pytest.mark.parametrize("sequential", [False, True], ids=["parallel", "sequential"])
def test_a_collection_over_the_limit_is_an_incident_on_the_task(engine, sequential):
    deploy(engine, over_a_collection(sequential))

    instance = start(engine, data={"items": list(range(MAX_INSTANCES + 1))})

    assert instance.status is InstanceStatus.ERROR
    assert instance.incident.element_id == "work"
    assert instance.incident.message == (
        f"The input collection of 'work' has {MAX_INSTANCES + 1} items; a multi-instance task may have at most "
        f"{MAX_INSTANCES} instances. Split the work, or loop over batches.")
    assert instance_row(engine, instance.id).status is InstanceStatus.ERROR
    deploy(engine, over_a_collection(sequential), key="fine")
    fine = start(engine, "fine", data={"items": [1, 2, 3]})
    assert (fine.status, fine.data["doubled"]) == (InstanceStatus.COMPLETED, [2, 4, 6])


@pytest.mark.parametrize("command", [DeployVersion, ValidateDeployment])
def test_a_diagram_is_checked_before_the_write_transaction(engine, monkeypatch, command):
    """While a diagram is being checked, other commands write: the check holds no lock (on SQLite the write
    lock is the whole database's; a slow parse used to stop every write)."""
    deploy(engine, SMALL, key="other")
    wrote = threading.Event()
    original = deployment_module.prepare_deployment

    def slow_check(*args, **kwargs):
        writer = threading.Thread(target=lambda: engine.run(StartInstance("other"), actor="alice") and wrote.set())
        writer.start()
        writer.join(timeout=20)
        return original(*args, **kwargs)

    monkeypatch.setattr("engine.commands.prepare_deployment", slow_check)

    engine.run(command("checked", "change", SMALL, forms=FORMS), actor="olivia")

    assert wrote.is_set()


def test_a_deploy_checked_against_a_version_that_changed_meanwhile_is_a_conflict(engine, monkeypatch):
    from engine import Conflict

    deploy(engine, SMALL, key="proc")
    original = deployment_module.prepare_deployment

    def racing_check(*args, **kwargs):
        monkeypatch.setattr("engine.commands.prepare_deployment", original)
        deploy(engine, SMALL.replace("done = True", "done = 1"), key="proc")  # someone else's deploy lands
        return original(*args, **kwargs)

    monkeypatch.setattr("engine.commands.prepare_deployment", racing_check)

    with pytest.raises(Conflict):
        engine.run(DeployVersion("proc", "change", SMALL.replace("done = True", "done = 2"), forms=FORMS),
                   actor="olivia")
