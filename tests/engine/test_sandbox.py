"""Scripts, pre/post scripts and conditions run sandboxed; errors become incidents, and a retry re-runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine import CompleteTask, Conflict, DeployError, EventType, InstanceStatus, RetryInstance, TaskStatus
from tests.engine.builder import (
    diagram,
    end_event,
    flow,
    flows,
    gateway,
    script_task,
    start_event,
    user_task,
)
from tests.engine.support import deploy, event_types, events, incidents, start, tasks_of


def run_script(engine, script: str, data: dict | None = None):
    """Deploy start -> script task 'work' -> end, and start it."""
    deploy(engine, diagram(start_event() + script_task("work", script, "Do the work") + end_event()
                           + flows("start", "work", "end")))
    return start(engine, data=data)


def assert_incident(instance, *, line: int | None, error_type: str, words: str) -> None:
    assert instance.status is InstanceStatus.ERROR, instance
    incident = instance.incident
    assert incident is not None
    assert (incident.element_id, incident.line, incident.error_type) == ("work", line, error_type)
    assert words in incident.message


def test_a_script_sees_the_data_and_the_helpers_and_leaves_json_like_values(engine, clock):
    instance = run_script(engine, "\n".join([
        "total = sum(prices)",
        "root = math.sqrt(total)",
        "due = now() + timedelta(days=2)",
        "day = today()",
        "planned = parse_datetime(planned_text)",
        "names = sorted(n.upper() for n in ['b', 'a'])",
        "nothing = None",
        "helper = lambda x: x * 2",
        "doubled = helper(total)",
    ]), data={"prices": [4, 5], "planned_text": "2026-03-01T10:00:00+01:00"})

    assert instance.status is InstanceStatus.COMPLETED
    assert instance.data == {
        "prices": [4, 5], "planned_text": "2026-03-01T10:00:00+01:00", "total": 9, "root": 3.0,
        "due": (clock.now() + timedelta(days=2)).isoformat(), "day": clock.now().date().isoformat(),
        "planned": "2026-03-01T09:00:00+00:00", "names": ["A", "B"], "nothing": None, "doubled": 18,
    }  # the lambda is dropped: functions are not data


def test_pre_and_post_scripts_run_around_a_user_task(engine):
    deploy(engine, diagram(
        start_event() + user_task("review", "Review", form="test/decide", pre="shown = 'prepared'",
                                  post="approved = decision == 'yes'")
        + end_event() + flows("start", "review", "end"),
        {"Process Manager": ["review"]},
    ))
    instance = start(engine)
    assert instance.data == {"shown": "prepared"}

    engine.run(CompleteTask(instance.tasks[0].id, {"decision": "yes"}), actor="mia")

    assert engine.instance_view(instance.id).data == {
        "shown": "prepared", "decision": "yes", "note": None, "approved": True}


@pytest.mark.parametrize("amount, path", [(5, "small"), (50, "big")])
def test_gateway_conditions_choose_the_path(engine, amount, path):
    deploy(engine, diagram(
        start_event() + gateway("size", default="to_small") + script_task("big", "path = 'big'")
        + script_task("small", "path = 'small'") + end_event("end_big") + end_event("end_small")
        + flow("start", "size") + flow("size", "big", "amount > 10 and isinstance(amount, int)")
        + flow("size", "small", element_id="to_small") + flows("big", "end_big") + flows("small", "end_small"),
    ))

    assert start(engine, data={"amount": amount}).data["path"] == path


# -- escapes and rule breaking --------------------------------------------------------------------


@pytest.mark.parametrize("script, error_type, words", [
    ("x = 1\nimport os", "ImportError", "imports are not allowed"),
    ("x = 1\nfrom os import system", "ImportError", "imports are not allowed"),
    ("x = 1\nimport math", "ImportError", "imports are not allowed"),
    ("x = 1\nf = open('/etc/passwd')", "NameError", "'open' is not defined"),
    ("x = 1\nc = getattr((), '__cla' + 'ss__')", "AttributeError", "__class__"),
    ("x = 1\nc = getattr((), '_' * 2 + 'class' + '_' * 2, None)", "AttributeError", "__class__"),
    ("x = 1\nm = getattr(getattr((), 'count'), '__self__')", "AttributeError", "__self__"),
    ("x = 1\ns = getattr(getattr(getattr(1, 'real'), 'conjugate'), '__subclasses__')", "AttributeError",
     "__subclasses__"),
    ("x = 1\ne = eval", "NameError", "'eval' is not defined"),
    ("x = 1\ne = exec", "NameError", "'exec' is not defined"),
    ("x = 1\ng = globals()", "NameError", "'globals' is not defined"),
    ("x = 1\nv = vars()", "NameError", "'vars' is not defined"),
    ("x = 1\nt = type(())", "NameError", "'type' is not defined"),
    ("x = 1\nsetattr(math, 'pi', 3)", "NameError", "'setattr' is not defined"),
    ("x = 1\ns = str.format('{0.real}', 1)", "NotImplementedError", "format"),
    ("x = 1\nr = list(range(10 ** 9))", "ValueError", "range() is limited"),
])
def test_a_runtime_sandbox_violation_errors_the_instance_with_an_incident(engine, script, error_type, words):
    instance = run_script(engine, script)

    assert_incident(instance, line=2, error_type=error_type, words=words)
    assert "x" not in instance.data  # a failing script changes no data


def test_nothing_runs_on_the_host(engine, tmp_path: Path):
    marker = tmp_path / "escaped"
    attempts = [
        f"x = 1\nimport os\nos.system('touch {marker}')",
        f"x = 1\nf = open('{marker}', 'w')\nf.write('pwned')",
        f"x = 1\nos = __builtins__['__import__']('os')\nos.system('touch {marker}')",
    ]
    for index, script in enumerate(attempts):
        key = f"escape{index}"
        try:
            deploy(engine, diagram(start_event() + script_task("work", script) + end_event()
                                   + flows("start", "work", "end")), key=key)
        except DeployError:
            continue  # dunder names never get past the deploy
        assert start(engine, key).status is InstanceStatus.ERROR
    assert not marker.exists()


def test_a_script_cannot_leak_a_module_or_helper_into_the_data(engine):
    instance = run_script(engine, "x = 1\nm = math")

    assert_incident(instance, line=None, error_type="ScriptError", words="'m' holds a SimpleNamespace")


def test_an_endless_loop_hits_the_time_limit(engine):
    instance = run_script(engine, "x = 1\nwhile True:\n    pass")

    assert_incident(instance, line=2, error_type="ScriptTimeout", words="longer than 1 s")


def test_an_endless_loop_with_work_inside_hits_the_time_limit(engine):
    instance = run_script(engine, "total = 0\nwhile True:\n    total = total + 1")

    assert instance.status is InstanceStatus.ERROR
    assert instance.incident.error_type == "ScriptTimeout" and instance.incident.line in (2, 3)


def test_an_unbound_local_is_an_incident_not_a_crash(engine):
    # SpiffWorkflow's own message formatting fails on NameErrors it cannot suggest a fix for.
    instance = run_script(engine, "x = 1\ndef f():\n    y = y + 1\n    return y\nz = f()")

    assert_incident(instance, line=3, error_type="UnboundLocalError", words="'y'")


def test_a_failing_condition_is_an_incident_on_the_gateway(engine):
    deploy(engine, diagram(
        start_event() + gateway("size", default="other") + end_event("a") + end_event("b")
        + flow("start", "size") + flow("size", "a", "amount > 10") + flow("size", "b", element_id="other")))

    instance = start(engine)

    assert instance.status is InstanceStatus.ERROR
    assert (instance.incident.element_id, instance.incident.error_type) == ("size", "NameError")
    assert "amount" in instance.incident.message


def test_a_failing_pre_script_is_an_incident_on_its_task(engine):
    deploy(engine, diagram(start_event() + user_task("review", "Review", pre="x = 1\ny = 1 / 0") + end_event()
                           + flows("start", "review", "end"), {"Practitioner": ["review"]}))

    instance = start(engine)

    assert instance.status is InstanceStatus.ERROR
    assert (instance.incident.element_id, instance.incident.line) == ("review", 2)
    assert instance.tasks == []


# -- incidents and retries ------------------------------------------------------------------------


DIVIDE = diagram(start_event() + script_task("work", "ratio = total / count", "Divide") + user_task("next", "Next")
                 + end_event() + flows("start", "work", "next", "end"), {"Practitioner": ["next"]})


def test_an_incident_names_the_task_the_line_and_the_message_and_is_audited(engine):
    deploy(engine, DIVIDE)

    instance = start(engine, data={"total": 10, "count": 0})

    assert instance.status is InstanceStatus.ERROR and instance.tasks == []
    assert_incident(instance, line=1, error_type="ZeroDivisionError", words="division by zero")
    error = [event for event in events(engine, instance.id) if event.type is EventType.ERROR]
    assert len(error) == 1
    assert error[0].data["element_id"] == "work" and error[0].data["line"] == 1
    assert error[0].task_id == instance.incident.task_id


def test_a_retry_with_corrected_data_re_runs_the_failed_task(engine):
    deploy(engine, DIVIDE)
    instance = start(engine, data={"total": 10, "count": 0})

    retried = engine.run(RetryInstance(instance.id, {"count": 4}), actor="mike")

    assert retried.status is InstanceStatus.RUNNING and retried.incident is None
    assert retried.data == {"total": 10, "count": 4, "ratio": 2.5}
    assert [task.element_id for task in retried.tasks] == ["next"]
    assert event_types(engine, instance.id)[-2:] == [EventType.ERROR, EventType.RETRIED]
    [incident] = incidents(engine, instance.id)
    assert incident.resolved_by == "mike" and incident.resolved_at is not None


def test_a_retry_that_fails_again_opens_a_new_incident(engine):
    deploy(engine, DIVIDE)
    instance = start(engine, data={"total": 10, "count": 0})

    again = engine.run(RetryInstance(instance.id), actor="mike")

    assert again.status is InstanceStatus.ERROR and again.incident.id != instance.incident.id
    assert [incident.resolved_at is None for incident in incidents(engine, instance.id)] == [False, True]
    fixed = engine.run(RetryInstance(instance.id, {"count": 5}), actor="mike")
    assert fixed.status is InstanceStatus.RUNNING and fixed.data["ratio"] == 2.0


def test_retry_needs_an_instance_in_error(engine):
    deploy(engine, DIVIDE)
    instance = start(engine, data={"total": 10, "count": 2})

    with pytest.raises(Conflict):
        engine.run(RetryInstance(instance.id), actor="mike")


def test_a_failing_post_script_can_be_retried_and_the_task_completes_once(engine):
    deploy(engine, diagram(
        start_event() + user_task("count", "Count", form="test/count", post="share = 100 / amount")
        + user_task("next", "Next") + end_event() + flows("start", "count", "next", "end"),
        {"Practitioner": ["count", "next"]},
    ))
    instance = start(engine)

    failed = engine.run(CompleteTask(instance.tasks[0].id, {"amount": 0}), actor="pat")
    assert failed.instance.status is InstanceStatus.ERROR
    assert engine.instance_view(instance.id).incident.element_id == "count"

    retried = engine.run(RetryInstance(instance.id, {"amount": 4}), actor="mike")

    assert retried.status is InstanceStatus.RUNNING, retried.incident
    assert retried.data["share"] == 25.0
    assert [task.element_id for task in retried.tasks] == ["next"]
    rows = tasks_of(engine, instance.id)
    assert sorted((row.element_id, row.state, row.completed_by) for row in rows) == [
        ("count", TaskStatus.COMPLETED, "pat"), ("next", TaskStatus.OPEN, None)]
    assert event_types(engine, instance.id).count(EventType.COMPLETED) == 1


def test_open_tasks_wait_while_a_parallel_branch_is_in_error(engine):
    deploy(engine, diagram(
        start_event() + '<bpmn:parallelGateway id="fork"/>\n<bpmn:parallelGateway id="join"/>\n'
        + user_task("review", "Review") + script_task("work", "ratio = total / count") + end_event()
        + flows("start", "fork", "review", "join") + flows("fork", "work", "join") + flows("join", "end"),
        {"Practitioner": ["review"]},
    ))
    instance = start(engine, data={"total": 1, "count": 0})

    assert instance.status is InstanceStatus.ERROR
    [review] = tasks_of(engine, instance.id)
    assert review.state is TaskStatus.SUSPENDED
    with pytest.raises(Conflict):
        engine.run(CompleteTask(review.id), actor="pat")
    resumed = engine.run(RetryInstance(instance.id, {"count": 1}), actor="mike")
    assert resumed.status is InstanceStatus.RUNNING
    assert [task.state for task in resumed.tasks] == [TaskStatus.OPEN]
    assert engine.run(CompleteTask(review.id), actor="pat").instance.status is InstanceStatus.COMPLETED


def test_a_failing_pre_script_is_retried_with_corrected_data(engine):
    deploy(engine, diagram(start_event() + user_task("review", "Review", pre="share = 10 / count") + end_event()
                           + flows("start", "review", "end"), {"Practitioner": ["review"]}))
    instance = start(engine, data={"count": 0})
    assert instance.status is InstanceStatus.ERROR and instance.tasks == []

    retried = engine.run(RetryInstance(instance.id, {"count": 2}), actor="mike")

    assert retried.status is InstanceStatus.RUNNING
    assert [task.element_id for task in retried.tasks] == ["review"]
    assert retried.data == {"count": 2, "share": 5.0}


def test_a_retried_post_script_keeps_what_the_person_submitted_in_a_loop(engine):
    deploy(engine, diagram(
        start_event() + script_task("init", "passes = 0")
        + user_task("count", "Count", form="test/count", post="share = 100 / amount\npasses += 1")
        + gateway("again", default="leave") + end_event()
        + flows("start", "init", "count", "again") + flow("again", "count", "passes < 3", element_id="repeat")
        + flow("again", "end", element_id="leave"),
        {"Practitioner": ["count"]},
    ))
    instance = start(engine)
    first = engine.run(CompleteTask(instance.tasks[0].id, {"amount": 5}), actor="pat")
    failed = engine.run(CompleteTask(first.next_tasks[0].id, {"amount": 0}), actor="pat")
    assert failed.instance.status is InstanceStatus.ERROR

    # Without a correction the retry runs with what was submitted (0), not the earlier pass's value (5).
    again = engine.run(RetryInstance(instance.id), actor="mike")
    assert again.status is InstanceStatus.ERROR and again.incident.error_type == "ZeroDivisionError"
    fixed = engine.run(RetryInstance(instance.id, {"amount": 4}), actor="mike")

    assert fixed.status is InstanceStatus.RUNNING
    assert (fixed.data["amount"], fixed.data["share"], fixed.data["passes"]) == (4, 25.0, 2)
    assert [task.element_id for task in fixed.tasks] == ["count"]
