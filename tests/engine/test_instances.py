"""Instances: start, run to the first wait, the lifecycle commands, and long loops that really finish."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import (
    CancelInstance,
    ClaimTask,
    CompleteTask,
    Conflict,
    InstanceQuery,
    InstanceStatus,
    NotFound,
    PageRequest,
    ResumeInstance,
    StartInstance,
    SuspendInstance,
    TaskStatus,
)
from tests.engine.builder import (
    diagram,
    end_event,
    flow,
    flows,
    gateway,
    script_task,
    start_event,
    timer_catch,
    user_task,
)
from tests.engine.support import deploy, instance_row, open_task, start, tasks_of

TWO_TASKS = diagram(
    start_event() + user_task("review", "Review", form="test/decide") + script_task("tally", "reviewed = True")
    + user_task("approve", "Approve") + end_event() + flows("start", "review", "tally", "approve", "end"),
    {"Process Manager": ["review"], "Process Owner": ["approve"]},
)
LOOP_PASSES = 500


def test_start_runs_to_the_first_wait_with_the_initial_data(engine):
    deploy(engine, TWO_TASKS)

    instance = start(engine, data={"title": "Patch the mail relay", "priority": 2})

    assert instance.status is InstanceStatus.RUNNING
    assert instance.business_key == "CHG-000001"
    assert instance.data == {"title": "Patch the mail relay", "priority": 2}
    assert instance.started_by == "alice" and instance.ended_at is None
    assert [(t.element_id, t.title, t.role, t.state) for t in instance.tasks] == [
        ("review", "Review", "manager", TaskStatus.OPEN)]
    assert engine.instance_view(instance.id) == instance


def test_business_keys_count_per_practice(engine):
    deploy(engine, TWO_TASKS, key="change_proc")
    deploy(engine, TWO_TASKS, key="release_proc", practice="release")

    keys = [start(engine, key).business_key for key in ("change_proc", "release_proc", "change_proc",
                                                         "release_proc", "change_proc")]

    assert keys == ["CHG-000001", "REL-000001", "CHG-000002", "REL-000002", "CHG-000003"]
    found = engine.list_instances(InstanceQuery(business_key="REL-000002"), PageRequest())
    assert [view.process for view in found.items] == ["release_proc"]


def test_start_with_unknown_process_or_version_is_not_found(engine):
    with pytest.raises(NotFound):
        start(engine, "nothing")
    deploy(engine, TWO_TASKS)
    with pytest.raises(NotFound):
        start(engine, version=7)


def test_an_instance_with_no_wait_completes_at_once(engine):
    deploy(engine, diagram(start_event() + script_task("only", "x = 1") + end_event()
                           + flows("start", "only", "end")))

    instance = start(engine)

    assert instance.status is InstanceStatus.COMPLETED
    assert instance.data == {"x": 1} and instance.tasks == [] and instance.ended_at is not None


def test_an_instance_waiting_for_a_timer_is_waiting(engine):
    deploy(engine, diagram(start_event() + timer_catch("pause", "timeDuration", "PT1H") + end_event()
                           + flows("start", "pause", "end")))

    instance = start(engine)

    assert instance.status is InstanceStatus.WAITING and instance.tasks == []


def test_completion_moves_through_scripts_to_the_next_task_and_then_completes(engine):
    deploy(engine, TWO_TASKS)
    instance = start(engine)

    first = engine.run(CompleteTask(instance.tasks[0].id, {"decision": "yes"}), actor="mia")
    assert first.instance.status is InstanceStatus.RUNNING
    assert [task.element_id for task in first.next_tasks] == ["approve"]
    last = engine.run(CompleteTask(first.next_tasks[0].id), actor="owen")

    assert last.instance.status is InstanceStatus.COMPLETED and last.next_tasks == []
    view = engine.instance_view(instance.id)
    assert view.data == {"decision": "yes", "note": None, "reviewed": True}
    assert view.ended_at is not None and view.tasks == []


def test_suspend_stops_work_and_resume_lets_it_go_on(engine):
    deploy(engine, TWO_TASKS)
    instance = start(engine)
    task_id = instance.tasks[0].id

    suspended = engine.run(SuspendInstance(instance.id, reason="change freeze"), actor="mike")
    assert suspended.status is InstanceStatus.SUSPENDED
    assert [task.state for task in suspended.tasks] == [TaskStatus.SUSPENDED]
    for command in (ClaimTask(task_id), CompleteTask(task_id, {"decision": "yes"})):
        with pytest.raises(Conflict):
            engine.run(command, actor="mia")
    assert engine.run(SuspendInstance(instance.id), actor="mike").status is InstanceStatus.SUSPENDED  # idempotent

    resumed = engine.run(ResumeInstance(instance.id), actor="mike")
    assert resumed.status is InstanceStatus.RUNNING
    assert [task.state for task in resumed.tasks] == [TaskStatus.OPEN]
    done = engine.run(CompleteTask(task_id, {"decision": "no"}), actor="mia")
    assert [task.element_id for task in done.next_tasks] == ["approve"]


def test_cancel_withdraws_every_open_task_and_keeps_the_data(engine):
    deploy(engine, TWO_TASKS)
    instance = start(engine, data={"title": "Replace the core switch"})

    cancelled = engine.run(CancelInstance(instance.id, reason="duplicate"), actor="mike")

    assert cancelled.status is InstanceStatus.CANCELLED and cancelled.tasks == []
    assert cancelled.ended_at is not None
    assert cancelled.data == {"title": "Replace the core switch"}
    assert [task.state for task in tasks_of(engine, instance.id)] == [TaskStatus.CANCELLED]
    assert engine.run(CancelInstance(instance.id), actor="mike").status is InstanceStatus.CANCELLED
    with pytest.raises(Conflict):
        engine.run(CompleteTask(instance.tasks[0].id, {"decision": "yes"}), actor="mia")
    with pytest.raises(Conflict):
        engine.run(ResumeInstance(instance.id), actor="mike")


def test_cancel_listeners_run_once_inside_the_cancel_and_a_failing_one_undoes_it(engine):
    deploy(engine, TWO_TASKS)
    instance = start(engine)
    heard = []

    def listener(ctx, facts):
        heard.append((facts.business_key, facts.status, ctx.actor, ctx.store.get_instance(facts.instance_id).status))
        if len(heard) == 1:
            raise RuntimeError("the schedule could not be updated")

    engine.when_cancelled(listener)
    with pytest.raises(RuntimeError):
        engine.run(CancelInstance(instance.id), actor="mike")
    assert instance_row(engine, instance.id).status is InstanceStatus.RUNNING  # rolled back with the listener
    assert [task.state for task in tasks_of(engine, instance.id)] == [TaskStatus.OPEN]

    engine.run(CancelInstance(instance.id), actor="mike")
    engine.run(CancelInstance(instance.id), actor="mike")  # already cancelled: nothing happens, nobody is told
    assert heard == [(instance.business_key, InstanceStatus.CANCELLED, "mike", InstanceStatus.CANCELLED)] * 2


def test_a_suspended_instance_can_be_cancelled(engine):
    deploy(engine, TWO_TASKS)
    instance = start(engine)
    engine.run(SuspendInstance(instance.id), actor="mike")

    assert engine.run(CancelInstance(instance.id), actor="mike").status is InstanceStatus.CANCELLED
    assert [task.state for task in tasks_of(engine, instance.id)] == [TaskStatus.CANCELLED]


@pytest.mark.parametrize("command", [SuspendInstance, ResumeInstance, CancelInstance])
def test_a_completed_instance_refuses_lifecycle_commands(engine, command):
    deploy(engine, diagram(start_event() + end_event() + flows("start", "end")))
    instance = start(engine)

    assert instance.status is InstanceStatus.COMPLETED
    with pytest.raises(Conflict):
        engine.run(command(instance.id), actor="mike")


def test_lifecycle_commands_on_a_missing_instance_are_not_found(engine):
    for command in (SuspendInstance(42), ResumeInstance(42), CancelInstance(42)):
        with pytest.raises(NotFound):
            engine.run(command, actor="mike")


# -- long loops: the library's iterator depth limit must not end them early ----------------------


def _automatic_loop(then: str = "") -> str:
    """init, then a 3-task loop body (bump, note, gateway) run LOOP_PASSES times, then ``then`` or the end."""
    after = then or "end"
    body = (start_event() + script_task("init", "counter = 0") + script_task("bump", "counter += 1")
            + script_task("note", "last = counter") + gateway("again", default="leave") + end_event()
            + flows("start", "init", "bump", "note", "again")
            + flow("again", "bump", f"counter < {LOOP_PASSES}", element_id="repeat")
            + flow("again", after, element_id="leave"))
    if then:
        body += user_task(then, "Confirm") + flow(then, "end")
    return diagram(body, {"Practitioner": [then]} if then else None)


@pytest.mark.slow
def test_an_automatic_loop_of_500_passes_runs_to_the_end_in_one_command(engine):
    deploy(engine, _automatic_loop())

    instance = start(engine)

    assert instance.status is InstanceStatus.COMPLETED
    assert instance.data == {"counter": LOOP_PASSES, "last": LOOP_PASSES}
    # Uncompacted, 1500 finished tasks would weigh about 600 KB.
    assert len(instance_row(engine, instance.id).state) < 10_000


@pytest.mark.slow
def test_an_automatic_loop_leaves_a_small_state_when_it_stops_at_a_task(engine):
    deploy(engine, _automatic_loop(then="confirm"))

    instance = start(engine)

    assert instance.status is InstanceStatus.RUNNING
    assert [task.element_id for task in instance.tasks] == ["confirm"]
    assert instance.data["counter"] == LOOP_PASSES
    assert len(instance_row(engine, instance.id).state) < 10_000
    done = engine.run(CompleteTask(instance.tasks[0].id), actor="pat")
    assert done.instance.status is InstanceStatus.COMPLETED


@pytest.mark.slow
def test_a_loop_through_a_user_task_completed_500_times_finishes(engine):
    deploy(engine, diagram(
        start_event() + script_task("init", "counter = 0") + user_task("count", "Count", form="test/count")
        + script_task("bump", "counter += amount") + gateway("again", default="leave") + end_event()
        + flows("start", "init", "count", "bump", "again")
        + flow("again", "count", f"counter < {LOOP_PASSES}", element_id="repeat")
        + flow("again", "end", element_id="leave"),
        {"Practitioner": ["count"]},
    ))
    instance = start(engine)
    sizes = []

    for completed in range(1, LOOP_PASSES + 1):
        task = open_task(engine, instance.id, "count")
        result = engine.run(CompleteTask(task.id, {"amount": 1}), actor="pat")
        if completed % 100 == 0:
            sizes.append(len(instance_row(engine, instance.id).state))
        if completed < LOOP_PASSES:
            assert result.instance.status is InstanceStatus.RUNNING, f"stopped after {completed} passes"

    assert result.instance.status is InstanceStatus.COMPLETED and result.next_tasks == []
    view = engine.instance_view(instance.id)
    assert view.data["counter"] == LOOP_PASSES and view.tasks == []
    assert max(sizes) < 10_000, sizes  # compaction: the state does not grow with the passes
    rows = tasks_of(engine, instance.id)
    assert len(rows) == LOOP_PASSES and {row.state for row in rows} == {TaskStatus.COMPLETED}


def _loop_beside_a_user_task(passes: int) -> str:
    """fork: one branch waits at 'hold' (a form), the other waits an hour then loops ``passes`` times; join."""
    return diagram(
        start_event() + '<bpmn:parallelGateway id="fork"/>\n<bpmn:parallelGateway id="join"/>\n'
        + user_task("hold", "Hold", form="test/count") + timer_catch("pause", "timeDuration", "PT1H")
        + script_task("init", "counter = 0") + script_task("bump", "counter += 1")
        + script_task("note", "last = counter") + gateway("again", default="leave") + user_task("final", "Final")
        + end_event()
        + flows("start", "fork", "hold", "join") + flows("fork", "pause", "init", "bump", "note", "again")
        + flow("again", "bump", f"counter < {passes}", element_id="repeat")
        + flow("again", "join", element_id="leave") + flows("join", "final", "end"),
        {"Practitioner": ["hold", "final"]},
    )


@pytest.mark.slow
def test_a_long_loop_in_one_branch_while_another_waits_at_a_user_task_finishes(engine, clock):
    # Re-rooting alone cannot shorten this tree: the fork stays the common ancestor of both branches.
    deploy(engine, _loop_beside_a_user_task(LOOP_PASSES))
    instance = start(engine)
    clock.advance(timedelta(hours=1))

    assert engine.fire_due_timers() == 1

    view = engine.instance_view(instance.id)
    assert view.status is InstanceStatus.RUNNING and [task.element_id for task in view.tasks] == ["hold"]
    assert view.data["counter"] == LOOP_PASSES  # the branch waiting at the join shows its data
    assert len(instance_row(engine, instance.id).state) < 10_000
    done = engine.run(CompleteTask(view.tasks[0].id, {"amount": 3}), actor="pat")
    assert [task.element_id for task in done.next_tasks] == ["final"]
    assert engine.instance_view(instance.id).data == {"counter": LOOP_PASSES, "last": LOOP_PASSES, "amount": 3}


def test_a_join_reached_after_a_long_loop_keeps_the_other_branch_data(engine, clock):
    deploy(engine, _loop_beside_a_user_task(100))
    instance = start(engine)
    engine.run(CompleteTask(instance.tasks[0].id, {"amount": 7}), actor="pat")  # this branch reaches the join first
    clock.advance(timedelta(hours=1))

    engine.fire_due_timers()

    view = engine.instance_view(instance.id)
    assert [task.element_id for task in view.tasks] == ["final"]
    assert view.data == {"amount": 7, "counter": 100, "last": 100}


@pytest.mark.slow
def test_a_library_stall_is_an_incident_never_a_completion(engine, monkeypatch):
    """Without compaction the library stops seeing the loop after about 333 passes; the engine must say so."""
    monkeypatch.setattr("engine.runtime.compact", lambda workflow: 0)
    deploy(engine, _automatic_loop())

    instance = start(engine)

    assert instance.status is InstanceStatus.ERROR
    assert instance.incident.error_type == "Stalled" and instance.incident.element_id is not None
    assert instance.data["counter"] < LOOP_PASSES


def test_starting_twice_gives_independent_instances(engine):
    deploy(engine, TWO_TASKS)

    first = engine.run(StartInstance("proc", {"n": 1}), actor="alice")
    second = engine.run(StartInstance("proc", {"n": 2}), actor="bob")

    assert first.id != second.id and first.tasks[0].id != second.tasks[0].id
    assert (engine.instance_view(first.id).data, engine.instance_view(second.id).data) == ({"n": 1}, {"n": 2})


def test_instances_are_listed_by_process_status_and_starter(engine):
    deploy(engine, TWO_TASKS)
    deploy(engine, diagram(start_event() + end_event() + flows("start", "end")), key="instant")
    first = start(engine, actor="alice")
    start(engine, actor="bob")
    done = start(engine, "instant", actor="alice")

    def keys(**query) -> list[str]:
        return [view.business_key for view in engine.list_instances(InstanceQuery(**query), PageRequest()).items]

    assert keys() == ["CHG-000003", "CHG-000002", "CHG-000001"]  # newest first
    assert keys(process_key="instant") == [done.business_key]
    assert keys(statuses=(InstanceStatus.RUNNING,), started_by="alice") == [first.business_key]
    assert keys(practices=("release",)) == []
    [view] = engine.list_instances(InstanceQuery(business_key=first.business_key), PageRequest()).items
    assert [task.element_id for task in view.tasks] == ["review"] and view.version == 1
