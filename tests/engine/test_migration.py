"""Moving running instances from one version to another: the dry run, the move, the tables afterwards."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import CompleteTask, Conflict, EventType, InstanceStatus, InvalidInput, TaskStatus
from engine.migrating import MigrateInstance, migrate_instances, plan_migration
from tests.engine.builder import boundary_timer, diagram, end_event, flows, start_event, user_task
from tests.engine.support import (
    assert_mirrors_workflow,
    deploy,
    events,
    human_task_rows,
    instance_row,
    open_task,
    start,
)

LANES = {"Practitioner": ["review", "check", "approve", "second", "end", "start", "sla"]}
V1 = diagram(start_event() + user_task("review", "Review") + user_task("approve", "Approve") + end_event()
             + boundary_timer("sla", "review", "timeDuration", "PT4H") + flows("start", "review", "approve", "end")
             + flows("sla", "end").replace('id="flow_sla_end"', 'id="flow_sla_end"'), LANES)
# v2 adds a check between review and approve, and renames the title of review
V2 = diagram(start_event() + user_task("review", "Review it") + user_task("check", "Check")
             + user_task("approve", "Approve") + end_event()
             + boundary_timer("sla", "review", "timeDuration", "PT4H")
             + flows("start", "review", "check", "approve", "end") + flows("sla", "end"), LANES)
# v3 renames the element review to second
V3 = V2.replace('"review"', '"second"').replace(">review<", ">second<").replace("flow_review_", "flow_second_") \
    .replace("_review\"", "_second\"").replace('attachedToRef="second"', 'attachedToRef="second"')


def _complete(engine, instance_id, element_id, actor="pat"):
    task = open_task(engine, instance_id, element_id)
    return engine.run(CompleteTask(task.id, {}), actor=actor)


def test_a_dry_run_lists_each_instance_and_changes_nothing(engine):
    deploy(engine, V1)
    first, second = start(engine), start(engine)
    _complete(engine, second.id, "review")
    deploy(engine, V2)
    before = instance_row(engine, first.id).revision

    report = plan_migration(engine, "proc", 1, 2, {}, actor="olivia")

    assert [(plan.business_key, plan.can_move) for plan in report.instances] == [
        (first.business_key, True), (second.business_key, True)]
    assert report.instances[0].elements == [
        {"element_id": "review", "target_id": "review", "state": "ready"},
        {"element_id": "sla", "target_id": "sla", "state": "waiting"}]
    assert instance_row(engine, first.id).revision == before
    assert instance_row(engine, first.id).version_id != deploy(engine, V2).version  # still on v1


def test_an_instance_moves_keeps_its_task_and_timer_and_runs_on_the_new_version(engine, clock):
    deploy(engine, V1)
    instance = start(engine)
    task_before = open_task(engine, instance.id, "review")
    due_before = instance_row(engine, instance.id).next_timer_at
    deploy(engine, V2)
    clock.advance(timedelta(minutes=30))

    moves = engine.run(MigrateInstance(instance.id, "proc", 1, 2), actor="olivia")

    assert [move.to_dict() for move in moves][0] == {"element_id": "review", "target_id": "review", "state": "ready"}
    row = instance_row(engine, instance.id)
    assert row.next_timer_at == due_before  # the SLA timer still fires when it would have
    task_after = open_task(engine, instance.id, "review")
    assert task_after.id == task_before.id and task_after.title == "Review it"
    [event] = [e for e in events(engine, instance.id) if e.type is EventType.VERSION_CHANGED]
    assert (event.actor, event.data["from_version"], event.data["to_version"]) == ("olivia", 1, 2)
    assert_mirrors_workflow(engine, instance.id)
    assert engine.instance_view(instance.id).version == 2
    _complete(engine, instance.id, "review")
    assert open_task(engine, instance.id, "check").title == "Check"  # the new step, only in v2
    _complete(engine, instance.id, "check")
    result = _complete(engine, instance.id, "approve")
    assert result.instance.status is InstanceStatus.COMPLETED


def test_a_renamed_element_needs_a_mapping(engine):
    deploy(engine, V2)
    instance = start(engine)
    deploy(engine, V3)

    unmapped = plan_migration(engine, "proc", 1, 2, {}, actor="olivia")
    assert not unmapped.instances[0].can_move
    assert "'review'" in unmapped.instances[0].problems[0]
    with pytest.raises(Conflict):
        engine.run(MigrateInstance(instance.id, "proc", 1, 2), actor="olivia")

    report = migrate_instances(engine, "proc", 1, 2, {"review": "second"}, actor="olivia")

    assert report.moved == [instance.business_key] and report.skipped == []
    [row] = [task for task in human_task_rows(engine, instance.id) if task.status is TaskStatus.OPEN]
    assert row.element_id == "second"
    _complete(engine, instance.id, "second")
    assert open_task(engine, instance.id, "check")


def test_a_mapping_to_an_unknown_element_is_invalid(engine):
    deploy(engine, V1)
    start(engine)
    deploy(engine, V2)

    with pytest.raises(InvalidInput) as caught:
        plan_migration(engine, "proc", 1, 2, {"review": "nowhere"}, actor="olivia")
    assert caught.value.errors == {"mapping.review": ["'nowhere' is not an element of the target version."]}


def test_an_instance_whose_step_is_gone_is_skipped_and_stays(engine):
    deploy(engine, V2)
    moving, staying = start(engine), start(engine)
    _complete(engine, staying.id, "review")  # now at check, which v2' lacks
    deploy(engine, V1)  # version 2: no check

    report = migrate_instances(engine, "proc", 1, 2, {}, actor="olivia")

    assert report.moved == [moving.business_key]
    assert [s["business_key"] for s in report.skipped] == [staying.business_key]
    assert "'check'" in report.skipped[0]["reason"]
    assert engine.instance_view(staying.id).version == 1
    assert not [e for e in events(engine, staying.id) if e.type is EventType.VERSION_CHANGED]


def _with_subprocess(extra: str = "") -> str:
    inner = (start_event("s_start") + user_task("inner", "Inner") + extra + end_event("s_end")
             + (flows("s_start", "inner", "check", "s_end") if extra else flows("s_start", "inner", "s_end")))
    return diagram(start_event() + f'<bpmn:subProcess id="sub">{inner}</bpmn:subProcess>' + user_task("after")
                   + end_event() + flows("start", "sub", "after", "end"),
                   {"Practitioner": ["start", "sub", "after", "end", "inner", "check", "s_start", "s_end"]})


def test_an_instance_inside_a_subprocess_moves_and_takes_the_new_step_there(engine):
    deploy(engine, _with_subprocess())
    instance = start(engine)
    deploy(engine, _with_subprocess(user_task("check", "Check")))

    [plan] = plan_migration(engine, "proc", 1, 2, {}, actor="olivia").instances
    assert plan.elements == [{"element_id": "inner", "target_id": "inner", "state": "ready"},
                             {"element_id": "sub", "target_id": "sub", "state": "started"}]
    engine.run(MigrateInstance(instance.id, "proc", 1, 2), actor="olivia")

    assert_mirrors_workflow(engine, instance.id)
    for element_id in ("inner", "check"):
        _complete(engine, instance.id, element_id)
    assert _complete(engine, instance.id, "after").instance.status is InstanceStatus.COMPLETED


def test_a_suspended_instance_moves_and_stays_suspended(engine):
    from engine import SuspendInstance

    deploy(engine, V1)
    instance = start(engine)
    engine.run(SuspendInstance(instance.id), actor="olivia")
    deploy(engine, V2)

    engine.run(MigrateInstance(instance.id, "proc", 1, 2), actor="olivia")

    view = engine.instance_view(instance.id)
    assert (view.version, view.status) == (2, InstanceStatus.SUSPENDED)
    assert [task.status for task in human_task_rows(engine, instance.id)] == [TaskStatus.SUSPENDED]
