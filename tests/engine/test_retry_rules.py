"""A retry's corrections never get round a form or separation of duties (issue 9, finding 18)."""

from __future__ import annotations

import pytest

from engine import CompleteTask, FormInvalid, InstanceStatus, RetryInstance
from tests.engine.builder import diagram, end_event, flows, script_task, start_event, user_task
from tests.engine.support import deploy, incidents, start

# The count is collected by a form, then a script divides by it, then someone decides.
COUNT_THEN_DIVIDE = diagram(
    start_event() + user_task("count", "Count", form="test/count", post="share = 100 / amount")
    + script_task("divide", "ratio = 10 / divisor") + user_task("decide", "Decide", form="test/decide")
    + end_event() + flows("start", "count", "divide", "decide", "end"),
    {"Practitioner": ["count", "decide"]},
)


class Refused(Exception):
    """What a test authorizer raises."""


def refuse(_facts):
    raise Refused("may not complete this task")


def failed_post_script(engine):
    deploy(engine, COUNT_THEN_DIVIDE)
    instance = start(engine, data={"divisor": 2})
    engine.run(CompleteTask(instance.tasks[0].id, {"amount": 0}), actor="pat")
    assert engine.instance_view(instance.id).status is InstanceStatus.ERROR
    return instance


def assert_unchanged(engine, instance) -> None:
    view = engine.instance_view(instance.id)
    assert view.status is InstanceStatus.ERROR and view.incident is not None
    assert [incident.resolved_at for incident in incidents(engine, instance.id)] == [None]


@pytest.mark.parametrize("data, field", [
    ({"amount": -1}, "amount"),  # the form says min 0
    ({"amount": "four"}, "amount"),
    ({"bogus": 1}, "bogus"),  # not a field of the form
])
def test_corrections_of_a_submission_are_checked_against_its_form(engine, data, field):
    instance = failed_post_script(engine)

    with pytest.raises(FormInvalid) as caught:
        engine.run(RetryInstance(instance.id, data), actor="mike")

    assert field in caught.value.errors
    assert_unchanged(engine, instance)


def test_only_someone_who_may_complete_the_task_may_correct_its_submission(engine):
    instance = failed_post_script(engine)

    with pytest.raises(Refused):
        engine.run(RetryInstance(instance.id, {"amount": 4}, authorize_form=refuse), actor="mike")
    assert_unchanged(engine, instance)

    # Without corrections the form is not resubmitted, so no such right is needed (the retry fails again).
    again = engine.run(RetryInstance(instance.id, authorize_form=refuse), actor="mike")
    assert again.status is InstanceStatus.ERROR
    fixed = engine.run(RetryInstance(instance.id, {"amount": 4}), actor="mike")
    assert fixed.status is InstanceStatus.RUNNING and fixed.data["share"] == 25.0


def test_a_retry_elsewhere_may_not_set_what_a_form_decides(engine):
    deploy(engine, COUNT_THEN_DIVIDE)
    instance = start(engine, data={"divisor": 0})
    engine.run(CompleteTask(instance.tasks[0].id, {"amount": 5}), actor="pat")
    assert engine.instance_view(instance.id).incident.element_id == "divide"

    with pytest.raises(FormInvalid) as caught:
        engine.run(RetryInstance(instance.id, {"divisor": 5, "decision": "yes", "amount": 1}), actor="mike")

    assert set(caught.value.errors) == {"decision", "amount"}
    assert_unchanged(engine, instance)
    fixed = engine.run(RetryInstance(instance.id, {"divisor": 5}), actor="mike")
    assert fixed.status is InstanceStatus.RUNNING and fixed.data["ratio"] == 2.0
    assert [task.element_id for task in fixed.tasks] == ["decide"]
