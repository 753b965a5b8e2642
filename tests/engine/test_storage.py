"""Saved state: the spec by reference, the serializer format recorded, and a reload at every step."""

from __future__ import annotations

import json

import pytest

from engine import ClaimTask, CompleteTask, Database, Engine, FormInvalid, InstanceStatus
from engine.models import ProcessInstance
from engine.serialization import LIBRARY_MIGRATIONS, STATE_FORMAT, StateCodec, StateUnreadable
from roles.policy import role_for_lane
from tests.engine.builder import diagram, end_event, flows, script_task, start_event, user_task
from tests.engine.support import FORMS, deploy, instance_row, open_task, start

STEPS = diagram(
    start_event() + script_task("stamp", "started_on = today()\nwindow = timedelta(hours=4)")
    + user_task("review", "Review", form="test/decide") + script_task("later", "due_on = started_on + window")
    + user_task("approve", "Approve") + end_event()
    + flows("start", "stamp", "review", "later", "approve", "end"),
    {"Process Manager": ["review"], "Process Owner": ["approve"]},
)


def fresh_engine(engine: Engine) -> Engine:
    """Another engine on the same database, with cold caches: what a restarted server would be."""
    return Engine(Database(engine.database.url), lane_roles=role_for_lane, clock=engine.clock,
                  find_form={}.get, script_time_limit=1.0, services=engine.services, business_keys=engine.business_keys)


def test_the_state_holds_no_spec_and_records_its_format(engine):
    deploy(engine, STEPS)
    instance = start(engine)

    row = instance_row(engine, instance.id)
    document = json.loads(row.state)
    assert row.serializer_version == STATE_FORMAT == StateCodec.version
    assert document["serializer_version"] == STATE_FORMAT
    assert "spec" not in document and "subprocess_specs" not in document
    assert not any("spec" in key for key in document if key != "serializer_version")
    assert len(row.state) < 4_000


def test_every_command_saves_and_a_fresh_engine_carries_on(engine):
    deploy(engine, STEPS)
    instance = start(engine)
    revisions = [instance_row(engine, instance.id).revision]

    other = fresh_engine(engine)
    try:
        assert other.instance_view(instance.id) == engine.instance_view(instance.id)
        other.run(ClaimTask(instance.tasks[0].id), actor="mia")
        revisions.append(instance_row(engine, instance.id).revision)
        assert engine.instance_view(instance.id).tasks[0].assignee == "mia"

        moved = engine.run(CompleteTask(instance.tasks[0].id, {"decision": "yes"}), actor="mia")
        revisions.append(instance_row(engine, instance.id).revision)
        third = fresh_engine(engine)
        done = third.run(CompleteTask(moved.next_tasks[0].id), actor="owen")
        revisions.append(instance_row(engine, instance.id).revision)
        third.database.dispose()
    finally:
        other.database.dispose()

    assert done.instance.status is InstanceStatus.COMPLETED
    assert revisions == sorted(set(revisions))  # each command bumped the revision
    data = engine.instance_view(instance.id).data
    assert data["started_on"] == "2026-01-05" and data["due_on"] == "2026-01-05"
    assert data["window"] == 4 * 3600


def test_dates_and_durations_survive_a_reload_as_values_scripts_can_use(engine):
    deploy(engine, diagram(
        start_event() + script_task("stamp", "day = today()\nmoment = now()\ngap = timedelta(days=1)")
        + user_task("wait", "Wait") + script_task("use", "next_day = day + gap\nlater = moment + gap")
        + end_event() + flows("start", "stamp", "wait", "use", "end"),
        {"Practitioner": ["wait"]},
    ))
    instance = start(engine)

    done = engine.run(CompleteTask(open_task(engine, instance.id).id), actor="pat")

    assert done.instance.status is InstanceStatus.COMPLETED
    data = engine.instance_view(instance.id).data
    assert (data["next_day"], data["later"]) == ("2026-01-06", "2026-01-06T09:00:00+00:00")


def store_state_as(engine: Engine, instance_id: int, state_format: str) -> None:
    """Rewrite the instance's saved state as if an engine writing ``state_format`` had saved it."""
    with engine.database.transaction() as session:
        row = session.get(ProcessInstance, instance_id)
        document = json.loads(row.state)
        document["serializer_version"] = state_format
        row.state = json.dumps(document)
        row.serializer_version = state_format or ""


def test_a_state_saved_by_an_older_library_is_migrated_with_the_library_s_migration(engine, monkeypatch):
    deploy(engine, STEPS)
    instance = start(engine)
    store_state_as(engine, instance.id, "1.4+ref.1")
    migrated: list[set[str]] = []
    original = LIBRARY_MIGRATIONS["1.4"]

    def spy(document):
        migrated.append(set(document))  # the library's migration sees the spec the state was saved without
        original(document)

    monkeypatch.setitem(LIBRARY_MIGRATIONS, "1.4", spy)
    other = fresh_engine(engine)  # a restarted server: no workflow cached anywhere
    try:
        moved = other.run(CompleteTask(instance.tasks[0].id, {"decision": "yes"}), actor="mia")
    finally:
        other.database.dispose()

    assert len(migrated) == 1 and {"spec", "subprocess_specs", "tasks"} <= migrated[0]
    assert [task.element_id for task in moved.next_tasks] == ["approve"]
    row = instance_row(engine, instance.id)
    document = json.loads(row.state)
    assert row.serializer_version == document["serializer_version"] == STATE_FORMAT  # saved in today's format
    assert "spec" not in document and "subprocess_specs" not in document
    assert row.data["decision"] == "yes" and row.data["due_on"] == "2026-01-05"


@pytest.mark.parametrize("state_format", ["9.0+ref.1", "1.5+ref.9", "1.5", None])
def test_a_state_in_a_format_this_engine_cannot_read_is_refused_and_left_alone(engine, state_format):
    deploy(engine, STEPS)
    instance = start(engine)
    store_state_as(engine, instance.id, state_format)
    before = instance_row(engine, instance.id)

    with pytest.raises(StateUnreadable, match=r"this engine reads .1\.5\+ref\.1.") as caught:
        engine.run(CompleteTask(instance.tasks[0].id, {"decision": "yes"}), actor="mia")

    assert caught.value.context == {"format": state_format}
    after = instance_row(engine, instance.id)
    assert (after.state, after.revision, after.status) == (before.state, before.revision, InstanceStatus.RUNNING)


def test_the_data_column_mirrors_the_workflow_data(engine):
    deploy(engine, STEPS)
    instance = start(engine, data={"title": "x"})

    engine.run(CompleteTask(instance.tasks[0].id, {"decision": "no", "note": "later"}), actor="mia")

    row = instance_row(engine, instance.id)
    assert row.data == {"title": "x", "started_on": "2026-01-05", "window": 14400.0, "decision": "no",
                        "note": "later", "due_on": "2026-01-05"}


def test_forms_are_snapshotted_into_the_version(engine):
    changed = {**FORMS, "test/decide": {"title": "Decide", "fields": [
        {"name": "decision", "type": "enum", "choices": ["yes", "no"], "required": True}]}}
    deploy(engine, STEPS, forms=changed)
    instance = start(engine)

    # Validation uses the version's snapshot (no "note" field), whatever the engine's form source says.
    with pytest.raises(FormInvalid) as caught:
        engine.run(CompleteTask(instance.tasks[0].id, {"decision": "yes", "note": "x"}), actor="mia")
    assert set(caught.value.errors) == {"note"}
