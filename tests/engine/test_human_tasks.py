"""Human tasks: the task table mirrors the ready user tasks after every command; claim, assign, complete."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import (
    AssignTask,
    ClaimTask,
    CompleteTask,
    Conflict,
    FormInvalid,
    InstanceQuery,
    InstanceStatus,
    NotFound,
    PageRequest,
    TaskQuery,
    TaskStatus,
    UnclaimTask,
)
from engine.serialization import StateCodec
from tests.engine.builder import (
    boundary_timer,
    diagram,
    end_event,
    flows,
    gateway,
    start_event,
    user_task,
)
from tests.engine.support import assert_mirrors_workflow, deploy, human_task_rows, open_task, start, tasks_of

REVIEW = diagram(
    start_event()
    + user_task("review", "Review the change", form="test/decide", dueIn="P2D")
    .replace("</bpmn:extensionElements>", "<spiffworkflow:instructionsForEndUser>Read it all."
             "</spiffworkflow:instructionsForEndUser></bpmn:extensionElements>")
    + user_task("approve", "Approve") + end_event() + flows("start", "review", "approve", "end"),
    {"Process Manager": ["review"], "Process Owner": ["approve"]},
)
PARALLEL = diagram(
    start_event() + '<bpmn:parallelGateway id="fork"/>\n<bpmn:parallelGateway id="join"/>\n'
    + user_task("build", "Build") + user_task("test", "Test") + user_task("sign", "Sign off") + end_event()
    + flows("start", "fork", "build", "join") + flows("fork", "test", "join") + flows("join", "sign", "end"),
    {"Practitioner": ["build", "test"], "Process Manager": ["sign"]},
)


def test_an_open_task_mirrors_the_ready_user_task(engine, clock):
    deploy(engine, REVIEW)
    instance = start(engine)

    [task] = tasks_of(engine, instance.id)
    assert (task.element_id, task.title, task.role, task.practice, task.form_key) == (
        "review", "Review the change", "manager", "change", "test/decide")
    assert (task.state, task.assignee, task.business_key, task.process) == (
        TaskStatus.OPEN, None, "CHG-000001", "proc")
    assert task.due_at == clock.now() + timedelta(days=2)
    assert task.instructions == "Read it all."
    assert task.created_at == clock.now() and task.completed_by is None


def test_a_boundary_timer_sets_the_due_date_and_the_earliest_wins(engine, clock):
    bpmn = diagram(
        start_event() + user_task("slow", "Slow", dueIn="P3D") + user_task("fast", "Fast", dueIn="P3D")
        + boundary_timer("slow_sla", "slow", "timeDuration", "P5D", interrupting=False)
        + boundary_timer("fast_sla", "fast", "timeDuration", "PT4H", interrupting=False)
        + end_event("late_slow") + end_event("late_fast") + end_event()
        + flows("start", "slow", "fast", "end") + flows("slow_sla", "late_slow") + flows("fast_sla", "late_fast"),
        {"Practitioner": ["slow", "fast"]},
    )
    deploy(engine, bpmn)
    instance = start(engine)

    assert open_task(engine, instance.id).due_at == clock.now() + timedelta(days=3)  # dueIn beats the timer
    clock.advance(timedelta(hours=1))
    moved = engine.run(CompleteTask(instance.tasks[0].id), actor="pat")
    assert moved.next_tasks[0].due_at == clock.now() + timedelta(hours=4)  # the timer beats dueIn


def test_parallel_branches_open_several_tasks_and_the_mirror_follows_each_completion(engine):
    deploy(engine, PARALLEL)
    instance = start(engine)
    assert sorted(task.element_id for task in instance.tasks) == ["build", "test"]

    build = open_task(engine, instance.id, "build")
    after_build = engine.run(CompleteTask(build.id), actor="pat")
    assert [task.element_id for task in after_build.next_tasks] == ["test"]
    after_test = engine.run(CompleteTask(open_task(engine, instance.id, "test").id), actor="pat")
    assert [task.element_id for task in after_test.next_tasks] == ["sign"]
    assert {(t.element_id, t.state) for t in tasks_of(engine, instance.id)} == {
        ("build", TaskStatus.COMPLETED), ("test", TaskStatus.COMPLETED), ("sign", TaskStatus.OPEN)}


def test_claim_unclaim_and_assign(engine):
    deploy(engine, REVIEW)
    task = start(engine).tasks[0]

    assert engine.run(ClaimTask(task.id), actor="mia").assignee == "mia"
    assert engine.run(ClaimTask(task.id), actor="mia").assignee == "mia"  # claiming twice changes nothing
    with pytest.raises(Conflict) as caught:
        engine.run(ClaimTask(task.id), actor="max")
    assert caught.value.context["assignee"] == "mia"
    assert engine.run(UnclaimTask(task.id), actor="mia").assignee is None
    assert engine.run(UnclaimTask(task.id), actor="mia").assignee is None
    assert engine.run(AssignTask(task.id, assignee="max"), actor="mike").assignee == "max"
    assert engine.run(AssignTask(task.id, assignee="mia"), actor="mike").assignee == "mia"
    assert engine.task_view(task.id).assignee == "mia"


def test_a_task_held_by_someone_else_cannot_be_completed_by_another(engine):
    deploy(engine, REVIEW)
    task = start(engine).tasks[0]
    engine.run(ClaimTask(task.id), actor="mia")

    with pytest.raises(Conflict):
        engine.run(CompleteTask(task.id, {"decision": "yes"}), actor="max")
    assert engine.task_view(task.id).state is TaskStatus.OPEN


def test_completing_records_who_and_when_and_writes_the_form_into_the_data(engine, clock):
    deploy(engine, REVIEW)
    instance = start(engine, data={"title": "t"})
    clock.advance(timedelta(minutes=5))

    result = engine.run(CompleteTask(instance.tasks[0].id, {"decision": "no", "note": "too risky"}), actor="mia")

    done = engine.task_view(instance.tasks[0].id)
    assert (done.state, done.completed_by, done.completed_at, done.assignee) == (
        TaskStatus.COMPLETED, "mia", clock.now(), "mia")
    assert result.instance.status is InstanceStatus.RUNNING
    assert engine.instance_view(instance.id).data == {"title": "t", "decision": "no", "note": "too risky"}


def test_an_optional_field_left_out_is_written_as_null(engine):
    deploy(engine, REVIEW)
    instance = start(engine)

    engine.run(CompleteTask(instance.tasks[0].id, {"decision": "yes"}), actor="mia")

    assert engine.instance_view(instance.id).data == {"decision": "yes", "note": None}


@pytest.mark.parametrize("data, errors", [
    ({}, {"decision": ["Missing data for required field."]}),
    ({"decision": "maybe"}, {"decision"}),
    ({"decision": "yes", "note": "x" * 21}, {"note"}),
    ({"decision": "yes", "colour": "red"}, {"colour"}),  # unknown fields are rejected
    ({"decision": "maybe", "colour": "red"}, {"decision", "colour"}),  # every problem at once
])
def test_completion_validates_the_data_against_the_form(engine, data, errors):
    deploy(engine, REVIEW)
    instance = start(engine)
    before = engine.instance_view(instance.id)

    with pytest.raises(FormInvalid) as caught:
        engine.run(CompleteTask(instance.tasks[0].id, data), actor="mia")

    assert set(caught.value.errors) == set(errors)
    if isinstance(errors, dict):
        assert caught.value.errors == errors
    assert engine.instance_view(instance.id) == before  # nothing changed
    assert engine.task_view(instance.tasks[0].id).state is TaskStatus.OPEN


def test_a_task_without_a_form_takes_no_data(engine):
    deploy(engine, REVIEW)
    instance = start(engine)
    approve = engine.run(CompleteTask(instance.tasks[0].id, {"decision": "yes"}), actor="mia").next_tasks[0]

    with pytest.raises(FormInvalid) as caught:
        engine.run(CompleteTask(approve.id, {"sneaky": 1}), actor="owen")
    assert caught.value.errors == {"sneaky": ["Unknown field."]}
    assert engine.run(CompleteTask(approve.id, {}), actor="owen").instance.status is InstanceStatus.COMPLETED


def test_a_completed_task_cannot_be_completed_claimed_or_assigned_again(engine):
    deploy(engine, REVIEW)
    task = start(engine).tasks[0]
    engine.run(CompleteTask(task.id, {"decision": "yes"}), actor="mia")

    for command in (CompleteTask(task.id, {"decision": "yes"}), ClaimTask(task.id), UnclaimTask(task.id),
                    AssignTask(task.id, assignee="max")):
        with pytest.raises(Conflict) as caught:
            engine.run(command, actor="max")
        assert "already completed by mia" in caught.value.detail


def test_commands_on_a_missing_task_are_not_found(engine):
    for command in (CompleteTask("nope"), ClaimTask("nope"), UnclaimTask("nope"), AssignTask("nope", assignee="x")):
        with pytest.raises(NotFound):
            engine.run(command, actor="mia")


def test_assign_to_requester_and_to_a_previous_completer(engine):
    bpmn = diagram(
        start_event() + user_task("draft", "Draft", assignTo="requester") + user_task("check", "Check")
        + user_task("fix", "Fix", assignTo="draft") + end_event() + flows("start", "draft", "check", "fix", "end"),
        {"Practitioner": ["draft", "fix"], "Process Manager": ["check"]},
    )
    deploy(engine, bpmn)
    instance = start(engine, actor="rita")
    assert instance.tasks[0].assignee == "rita"
    engine.run(AssignTask(instance.tasks[0].id, assignee="pat"), actor="mike")
    check = engine.run(CompleteTask(instance.tasks[0].id), actor="pat").next_tasks[0]

    fix = engine.run(CompleteTask(check.id), actor="mike").next_tasks[0]

    assert (check.assignee, fix.assignee) == (None, "pat")


def test_separation_of_duties_bars_the_requester_and_earlier_completers(engine):
    bpmn = diagram(
        start_event() + user_task("assess", "Assess") + user_task("authorize", "Authorize",
                                                                   separationOfDuties="requester, assess")
        + end_event() + flows("start", "assess", "authorize", "end"),
        {"Process Manager": ["assess", "authorize"]},
    )
    deploy(engine, bpmn)
    instance = start(engine, actor="rita")
    authorize = engine.run(CompleteTask(instance.tasks[0].id), actor="mike").next_tasks[0]
    seen = []

    def workable(user: str) -> list[str]:
        query = TaskQuery(instance_id=instance.id, workable_by=user)
        return [task.element_id for task in engine.list_tasks(query, PageRequest()).items]

    assert authorize.separation_of_duties == ("requester", "assess")
    assert (workable("rita"), workable("mike"), workable("max")) == ([], [], ["authorize"])

    def record_and_refuse(facts) -> None:
        seen.append(facts)
        raise PermissionError("this test only looks at the facts")

    for user in ("mike", "rita", "max"):
        with pytest.raises(PermissionError):
            engine.run(ClaimTask(authorize.id), actor=user, authorize=record_and_refuse)
    assert "mike completed 'Assess' in CHG-000001" in seen[0].barred_because
    assert "rita requested CHG-000001" in seen[1].barred_because
    assert seen[2].barred_because is None
    assert engine.task_view(authorize.id).assignee is None  # a refusal changes nothing


def test_task_detail_gives_the_form_as_json_schema_and_the_data(engine):
    deploy(engine, REVIEW)
    instance = start(engine, data={"note": "prefilled"})

    detail = engine.task_detail(instance.tasks[0].id)

    assert detail.task.id == instance.tasks[0].id and detail.requester == "alice"
    assert detail.data == {"note": "prefilled"} and detail.instance_status is InstanceStatus.RUNNING
    assert detail.form["key"] == "test/decide"
    schema = detail.form["schema"]
    assert schema["required"] == ["decision"] and schema["additionalProperties"] is False
    assert schema["properties"]["note"]["default"] == "prefilled"
    with pytest.raises(NotFound):
        engine.task_detail("nope")


def test_listing_filters_by_assignee_role_process_and_status(engine, clock):
    deploy(engine, REVIEW)
    first = start(engine)
    clock.advance(timedelta(minutes=1))
    second = start(engine)
    clock.advance(timedelta(minutes=1))
    engine.run(ClaimTask(first.tasks[0].id), actor="mia")
    engine.run(CompleteTask(second.tasks[0].id, {"decision": "yes"}), actor="max")

    def ids(**query) -> list[str]:
        return [task.business_key + ":" + task.element_id
                for task in engine.list_tasks(TaskQuery(**query), PageRequest()).items]

    assert ids() == ["CHG-000001:review", "CHG-000002:approve"]
    assert ids(assignee="mia") == ["CHG-000001:review"]
    assert ids(unassigned=True) == ["CHG-000002:approve"]
    assert ids(role="owner") == ["CHG-000002:approve"]
    assert ids(queues=(("manager", "change"),)) == ["CHG-000001:review"]
    assert ids(queues=(("manager", "release"),)) == []
    assert ids(statuses=(TaskStatus.COMPLETED,)) == ["CHG-000002:review"]
    assert ids(process_key="other") == []
    page = engine.list_tasks(TaskQuery(), PageRequest(page=2, per_page=1))
    assert page.total == 2 and [task.element_id for task in page.items] == ["approve"]


def test_queries_never_deserialize_a_workflow(engine, monkeypatch):
    deploy(engine, PARALLEL)
    instance = start(engine)
    engine.run(ClaimTask(instance.tasks[0].id), actor="pat")

    def refuse(*args, **kwargs):
        raise AssertionError("a query deserialized a workflow")

    monkeypatch.setattr(StateCodec, "loads", refuse)
    assert engine.list_tasks(TaskQuery(), PageRequest()).total == 2
    assert engine.task_view(instance.tasks[0].id).assignee == "pat"
    assert engine.task_detail(instance.tasks[1].id).task.element_id in ("build", "test")
    assert len(engine.instance_view(instance.id).tasks) == 2
    assert engine.list_events(instance.id, PageRequest()).total >= 2
    assert engine.list_instances(InstanceQuery(), PageRequest()).items[0].id == instance.id


def test_claiming_touches_no_workflow_state(engine, monkeypatch):
    """Claims and assignments change the task row only; they need not load the workflow."""
    deploy(engine, REVIEW)
    task = start(engine).tasks[0]
    calls = []
    original = StateCodec.loads
    monkeypatch.setattr(StateCodec, "loads", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))

    engine.run(ClaimTask(task.id), actor="mia")
    engine.run(AssignTask(task.id, assignee="max"), actor="mike")
    engine.run(UnclaimTask(task.id), actor="max")

    assert calls == []


def test_every_human_task_row_has_the_instance_keys(engine):
    deploy(engine, PARALLEL)
    instance = start(engine)

    rows = human_task_rows(engine, instance.id)

    assert {(row.business_key, row.process_key, row.instance_id) for row in rows} == {
        ("CHG-000001", "proc", instance.id)}


def test_after_every_command_the_task_table_mirrors_the_ready_user_tasks(engine, clock):
    deploy(engine, diagram(
        start_event() + '<bpmn:parallelGateway id="fork"/>\n<bpmn:parallelGateway id="join"/>\n'
        + user_task("build", "Build") + user_task("test", "Test") + user_task("sign", "Sign off")
        + boundary_timer("test_late", "test", "timeDuration", "PT8H") + user_task("retest", "Retest")
        + boundary_timer("build_sla", "build", "timeDuration", "PT2H", interrupting=False)
        + user_task("chase", "Chase") + end_event("chased") + end_event()
        + gateway("tested") + flows("start", "fork", "build", "join") + flows("fork", "test", "tested", "join")
        + flows("join", "sign", "end") + flows("test_late", "retest", "tested") + flows("build_sla", "chase", "chased"),
        {"Practitioner": ["build", "test", "retest"], "Process Manager": ["sign", "chase"]},
    ))
    instance = start(engine)
    assert_mirrors_workflow(engine, instance.id)
    steps = [
        lambda: engine.run(ClaimTask(open_task(engine, instance.id, "build").id), actor="pat"),
        lambda: clock.advance(timedelta(hours=2)) and engine.fire_due_timers(),  # chase opens beside build
        lambda: engine.run(CompleteTask(open_task(engine, instance.id, "chase").id), actor="mike"),
        lambda: clock.advance(timedelta(hours=6)) and engine.fire_due_timers(),  # test withdrawn, retest opens
        lambda: engine.run(CompleteTask(open_task(engine, instance.id, "build").id), actor="pat"),
        lambda: engine.run(CompleteTask(open_task(engine, instance.id, "retest").id), actor="sam"),
        lambda: engine.run(CompleteTask(open_task(engine, instance.id, "sign").id), actor="mike"),
    ]
    for step in steps:
        step()
        assert_mirrors_workflow(engine, instance.id)

    rows = {(row.element_id, row.status) for row in human_task_rows(engine, instance.id)}
    assert rows == {("build", TaskStatus.COMPLETED), ("test", TaskStatus.CANCELLED), ("chase", TaskStatus.COMPLETED),
                    ("retest", TaskStatus.COMPLETED), ("sign", TaskStatus.COMPLETED)}
    assert engine.instance_view(instance.id).status is InstanceStatus.COMPLETED
