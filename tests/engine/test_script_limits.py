"""Scripts that try to stop, freeze or exhaust the server end as an incident on their own instance.

Each case here once took the server down or held it (issue 9, findings 1, 3, 4, 6 and 14): a script
raising ``SystemExit``, catching the timeout, computing in C past the time limit, allocating gigabytes,
or leaving values no database can store. After each one, the same engine still runs a healthy instance.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import CancelInstance, DeployError, EventType, InstanceStatus, RetryInstance
from tests.engine.builder import diagram, end_event, flows, script_task, start_event, timer_catch
from tests.engine.support import deploy, events, start

HEALTHY = diagram(start_event() + script_task("work", "done = True") + end_event() + flows("start", "work", "end"))


def run_script(engine, script: str, key: str = "proc"):
    deploy(engine, diagram(start_event() + script_task("work", script) + end_event()
                           + flows("start", "work", "end")), key=key)
    return start(engine, key)


def assert_engine_still_works(engine) -> None:
    deploy(engine, HEALTHY, key="healthy")
    instance = start(engine, "healthy")
    assert instance.status is InstanceStatus.COMPLETED and instance.data == {"done": True}


@pytest.mark.parametrize("script, error_type", [
    ("x = 1\nraise SystemExit(3)", "SystemExit"),
    ("x = 1\nraise SystemExit(0)", "SystemExit"),
    ("x = 1\nraise KeyboardInterrupt", "KeyboardInterrupt"),
    ("x = 1\nraise GeneratorExit", "GeneratorExit"),
    ("x = 1\nraise BaseException('bye')", "BaseException"),
])
def test_a_script_raising_a_base_exception_is_an_incident(engine, script, error_type):
    instance = run_script(engine, script)

    assert instance.status is InstanceStatus.ERROR
    assert (instance.incident.element_id, instance.incident.error_type, instance.incident.line) == (
        "work", error_type, 2)
    assert "may not stop the engine" in instance.incident.message
    assert "x" not in instance.data
    assert_engine_still_works(engine)


@pytest.mark.parametrize("handler", ["Exception", "BaseException"])
def test_catching_the_timeout_does_not_switch_it_off(engine, handler):
    script = f"x = 1\nwhile True:\n    try:\n        while True:\n            pass\n    except {handler}:\n        pass"

    instance = run_script(engine, script)

    assert instance.status is InstanceStatus.ERROR
    assert instance.incident.error_type == "ScriptTimeout"
    assert "longer than 1 s" in instance.incident.message
    assert_engine_still_works(engine)


@pytest.mark.parametrize("script, error_type", [
    ("x = math.factorial(10 ** 8)", "ScriptTimeout"),
    ("x = math.comb(10 ** 8, 5 * 10 ** 7)", "ScriptTimeout"),
    ("x = 10 ** 10 ** 10", "ScriptTimeout"),
    ("x = 'a' * 10 ** 10", "MemoryError"),
    ("x = [0] * 10 ** 10", "MemoryError"),
    ("x = [[0] * 10 ** 6 for i in range(10 ** 4)]", None),  # time or memory, whichever runs out first
])
def test_work_done_in_c_is_bounded_in_time_and_memory(engine, script, error_type):
    instance = run_script(engine, script)

    assert instance.status is InstanceStatus.ERROR
    assert instance.incident.element_id == "work"
    assert instance.incident.error_type in ((error_type,) if error_type else ("ScriptTimeout", "MemoryError"))
    assert_engine_still_works(engine)


def test_a_condition_doing_c_level_work_is_an_incident_on_its_gateway(engine):
    from tests.engine.builder import flow, gateway

    deploy(engine, diagram(
        start_event() + gateway("size", default="other") + end_event("a") + end_event("b")
        + flow("start", "size") + flow("size", "a", "math.factorial(10 ** 8) > 1")
        + flow("size", "b", element_id="other")))

    instance = start(engine)

    assert instance.status is InstanceStatus.ERROR
    assert (instance.incident.element_id, instance.incident.error_type) == ("size", "ScriptTimeout")
    assert_engine_still_works(engine)


def test_a_worker_killed_for_a_timeout_is_replaced(engine):
    for key in ("first", "second"):
        assert run_script(engine, "x = math.factorial(10 ** 8)", key=key).incident.error_type == "ScriptTimeout"
    assert run_script(engine, "y = 6 * 7", key="third").data == {"y": 42}


@pytest.mark.parametrize("script, words", [
    ("x = 1\nbad = float('nan')", "'bad' holds nan"),
    ("x = 1\nbad = {'deep': [float('inf')]}", "'bad' holds inf"),
    ("x = 1\nbad = -float('inf')", "'bad' holds -inf"),
    ("x = 1\nbad = 'a' + chr(0) + 'b'", "'bad' holds text with a NUL character"),
    ("x = 1\nbad = {chr(0): 1}", "'bad' holds text with a NUL character"),
    ("x = 1\nbad = ['ok', chr(0xD800)]", "'bad' holds text with a lone UTF-16 surrogate"),
])
def test_values_no_database_can_store_are_an_incident_naming_the_variable(engine, script, words):
    instance = run_script(engine, script)

    assert instance.status is InstanceStatus.ERROR
    assert instance.incident.error_type == "ScriptError" and words in instance.incident.message
    assert "bad" not in instance.data and "x" not in instance.data
    # The instance stays workable on both databases: it can be retried and cancelled.
    again = engine.run(RetryInstance(instance.id), actor="mike")
    assert again.status is InstanceStatus.ERROR
    assert engine.run(CancelInstance(instance.id), actor="mike").status is InstanceStatus.CANCELLED


def test_the_documented_date_helpers_work_fully(engine):
    instance = run_script(engine, "\n".join([
        "stamp = now().strftime('%Y-%m-%d %H:%M')",
        "day = today().strftime('%d/%m/%Y')",
        "parsed = datetime.strptime('2026-03-01 10:30', '%Y-%m-%d %H:%M').isoformat()",
        "week = today().isocalendar()[1]",
        "later = (now() + timedelta(hours=5)).strftime('%H:%M')",
    ]))

    assert instance.status is InstanceStatus.COMPLETED, instance.incident
    assert instance.data == {"stamp": "2026-01-05 09:00", "day": "05/01/2026", "parsed": "2026-03-01T10:30:00",
                             "week": 2, "later": "14:00"}


def test_scripts_still_cannot_import_what_the_date_helpers_use(engine):
    for index, script in enumerate(["import time", "from time import sleep", "import time as clock"]):
        instance = run_script(engine, f"x = 1\n{script}", key=f"imports{index}")
        assert instance.status is InstanceStatus.ERROR, script
        assert instance.incident.error_type == "ImportError"
    with pytest.raises(DeployError):
        run_script(engine, "import _strptime", key="private")


def test_a_timer_fired_script_raising_system_exit_is_an_incident_and_other_timers_fire(engine, clock):
    deploy(engine, diagram(start_event() + timer_catch("pause", "timeDuration", "PT1H")
                           + script_task("work", "raise SystemExit(3)") + end_event()
                           + flows("start", "pause", "work", "end")), key="poisoned")
    deploy(engine, diagram(start_event() + timer_catch("pause", "timeDuration", "PT2H")
                           + script_task("work", "woke = True") + end_event()
                           + flows("start", "pause", "work", "end")), key="healthy")
    poisoned, healthy = start(engine, "poisoned"), start(engine, "healthy")
    clock.advance(timedelta(hours=3))

    assert engine.fire_due_timers() == 2

    poisoned_now = engine.instance_view(poisoned.id)
    assert poisoned_now.status is InstanceStatus.ERROR and poisoned_now.incident.error_type == "SystemExit"
    assert engine.instance_view(healthy.id).data == {"woke": True}
    assert [e.type for e in events(engine, poisoned.id)][-2:] == [EventType.TIMER_FIRED, EventType.ERROR]
