"""External tasks: service tasks that workers outside the engine fetch and lock by topic (Camunda 7's pattern)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import (
    CompleteExternalTask,
    Conflict,
    EventType,
    ExtendExternalTaskLock,
    ExternalTaskStatus,
    FetchAndLockExternalTasks,
    InstanceStatus,
    InvalidInput,
    ReportExternalTaskFailure,
    RetryInstance,
)
from engine.models import ExternalTask
from tests.engine.builder import HEADER, diagram, end_event, flows, start_event
from tests.engine.support import deploy, event_types, incidents, start

CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
BUILD = diagram(start_event() + '<bpmn:serviceTask id="build" name="Build" camunda:type="external" '
                'camunda:topic="build"/>\n' + end_event() + flows("start", "build", "end")
                ).replace(HEADER, HEADER.replace("xmlns:xsi=", CAMUNDA + "xmlns:xsi="))
MINUTE = 60_000


def fetch(engine, worker: str, *, topic: str = "build", lock_ms: int = MINUTE, max_tasks: int = 5):
    return engine.run(FetchAndLockExternalTasks(worker, {topic: lock_ms}, max_tasks), actor="ci-bot")


def rows(engine) -> list[ExternalTask]:
    with engine.database.snapshot() as session:
        return list(session.query(ExternalTask).order_by(ExternalTask.created_at, ExternalTask.instance_id))


def test_an_external_task_waits_in_the_queue_until_a_worker_completes_it(engine):
    deploy(engine, BUILD)
    instance = start(engine, data={"release": "1.2"})

    assert instance.status is InstanceStatus.WAITING and instance.tasks == []
    assert instance.waiting_for == [{"kind": "external_task", "element_id": "build", "topic": "build"}]
    [row] = rows(engine)
    assert (row.topic, row.status, row.role, row.practice) == ("build", ExternalTaskStatus.OPEN, "practitioner",
                                                              "change")
    [locked] = fetch(engine, "w1")
    assert locked.id == row.id and locked.worker_id == "w1" and locked.variables == {"release": "1.2"}
    assert fetch(engine, "w2") == []  # locked: nobody else gets it

    done = engine.run(CompleteExternalTask(locked.id, "w1", {"artifact": "app-1.2.tar.gz"}), actor="ci-bot")

    assert done.instance.status is InstanceStatus.COMPLETED
    assert engine.instance_view(instance.id).data == {"release": "1.2", "artifact": "app-1.2.tar.gz"}
    assert rows(engine)[0].status is ExternalTaskStatus.COMPLETED
    assert EventType.EXTERNAL_TASK_COMPLETED in event_types(engine, instance.id)


def test_an_expired_lock_puts_the_task_back_in_the_queue(engine, clock):
    deploy(engine, BUILD)
    start(engine)
    [first] = fetch(engine, "crashed", lock_ms=MINUTE)

    clock.advance(timedelta(seconds=61))
    [again] = fetch(engine, "w2")

    assert again.id == first.id and again.worker_id == "w2"
    with pytest.raises(Conflict, match="locked by the worker 'w2'"):
        engine.run(CompleteExternalTask(first.id, "crashed", {}), actor="ci-bot")
    assert engine.run(CompleteExternalTask(first.id, "w2", {}), actor="ci-bot").instance.status is \
        InstanceStatus.COMPLETED


def test_extending_the_lock_keeps_others_away(engine, clock):
    deploy(engine, BUILD)
    start(engine)
    [task] = fetch(engine, "w1", lock_ms=MINUTE)

    extended = engine.run(ExtendExternalTaskLock(task.id, "w1", new_duration_ms=10 * MINUTE), actor="ci-bot")
    clock.advance(timedelta(minutes=5))

    assert extended.lock_expires_at == clock.now() - timedelta(minutes=5) + timedelta(minutes=10)
    assert fetch(engine, "w2") == []
    with pytest.raises(Conflict, match="locked by the worker 'w1'"):
        engine.run(ExtendExternalTaskLock(task.id, "w2", new_duration_ms=MINUTE), actor="ci-bot")
    clock.advance(timedelta(minutes=6))
    with pytest.raises(Conflict, match="expired"):
        engine.run(ExtendExternalTaskLock(task.id, "w1", new_duration_ms=MINUTE), actor="ci-bot")


def test_a_failure_with_retries_left_waits_out_the_retry_timeout(engine, clock):
    deploy(engine, BUILD)
    instance = start(engine)
    [task] = fetch(engine, "w1")

    failed = engine.run(ReportExternalTaskFailure(task.id, "w1", error_message="compiler crashed", retries=2,
                                                  retry_timeout_ms=5 * MINUTE), actor="ci-bot")

    assert failed.state is ExternalTaskStatus.OPEN and failed.retries == 2 and failed.worker_id is None
    assert fetch(engine, "w2") == []  # not before the retry timeout
    clock.advance(timedelta(minutes=5))
    [again] = fetch(engine, "w2")
    assert again.id == task.id and again.error_message == "compiler crashed"
    assert engine.instance_view(instance.id).status is InstanceStatus.WAITING


def test_a_failure_with_no_retries_left_is_an_incident_that_a_retry_reopens(engine):
    deploy(engine, BUILD)
    instance = start(engine)
    [task] = fetch(engine, "w1")

    engine.run(ReportExternalTaskFailure(task.id, "w1", error_message="disk full", retries=0), actor="ci-bot")

    stopped = engine.instance_view(instance.id)
    assert stopped.status is InstanceStatus.ERROR
    assert stopped.incident.element_id == "build" and "disk full" in stopped.incident.message
    assert rows(engine)[0].status is ExternalTaskStatus.FAILED and fetch(engine, "w2") == []
    [incident] = incidents(engine, instance.id)
    assert incident.error_type == "ExternalTaskFailed"

    engine.run(RetryInstance(instance.id), actor="mike")

    assert engine.instance_view(instance.id).status is InstanceStatus.WAITING
    [reopened] = fetch(engine, "w2")
    assert reopened.id == task.id and reopened.state is ExternalTaskStatus.OPEN


def test_variables_are_validated_and_a_refused_completion_changes_nothing(engine):
    deploy(engine, BUILD)
    instance = start(engine)
    [task] = fetch(engine, "w1")

    with pytest.raises(InvalidInput) as caught:
        engine.run(CompleteExternalTask(task.id, "w1", {"ok": 1, "_private": 2, "two words": 3}), actor="ci-bot")

    assert set(caught.value.errors) == {"variables._private", "variables.two words"}
    assert rows(engine)[0].status is ExternalTaskStatus.OPEN
    assert engine.instance_view(instance.id).status is InstanceStatus.WAITING


def test_tasks_of_suspended_or_cancelled_instances_are_not_handed_out(engine):
    from engine import CancelInstance, SuspendInstance

    deploy(engine, BUILD)
    first, second = start(engine), start(engine)
    engine.run(SuspendInstance(first.id), actor="mike")
    engine.run(CancelInstance(second.id), actor="mike")

    assert fetch(engine, "w1") == []
    assert [row.status for row in rows(engine)] == [ExternalTaskStatus.OPEN, ExternalTaskStatus.CANCELLED]


def test_a_worker_sees_only_the_queues_of_its_user(engine):
    deploy(engine, BUILD)
    start(engine)

    def fetch_as(queues):
        return engine.run(FetchAndLockExternalTasks("w", {"build": MINUTE}, 5, queues=queues), actor="u")

    assert fetch_as((("practitioner", "release"),)) == []
    assert fetch_as((("manager", "change"),)) == []
    assert len(fetch_as((("practitioner", "*"),))) == 1


@pytest.mark.parametrize("marker", [
    '<bpmn:serviceTask id="build" name="Build"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="externalTopic" value="build"/></spiffworkflow:properties>'
    '</bpmn:extensionElements></bpmn:serviceTask>\n',
])
def test_our_property_marks_a_service_task_as_external_too(engine, marker):
    deploy(engine, diagram(start_event() + marker + end_event() + flows("start", "build", "end")))
    start(engine)

    assert [task.topic for task in fetch(engine, "w1")] == ["build"]


@pytest.mark.postgres
def test_concurrent_workers_never_get_the_same_task(engine, database_url):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    if not database_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
    deploy(engine, BUILD)
    started = {start(engine).id for _ in range(24)}
    barrier = threading.Barrier(4)

    def worker(name: str) -> list[str]:
        barrier.wait(timeout=30)
        got: list[str] = []
        while True:
            batch = engine.run(FetchAndLockExternalTasks(name, {"build": MINUTE}, 3), actor="ci-bot")
            if not batch:
                return got
            got += [task.id for task in batch]

    with ThreadPoolExecutor(4) as pool:
        fetched = list(pool.map(worker, [f"w{n}" for n in range(4)]))

    everything = [task_id for batch in fetched for task_id in batch]
    assert len(everything) == len(set(everything)) == 24
    assert {row.instance_id for row in rows(engine)} == started
    assert all(row.worker_id is not None for row in rows(engine))
