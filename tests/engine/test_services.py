"""Service tasks that fail: the instance stops with an incident naming the task, and a retry goes on once the
cause is fixed. The services here stand in for an external system that can be down."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine import (
    CancelInstance,
    Conflict,
    Engine,
    EventType,
    InstanceStatus,
    RetryInstance,
    ServiceContext,
    ServiceError,
    ServiceRegistry,
    TaskStatus,
)
from itsm import BUSINESS_KEY_PREFIXES
from roles.policy import role_for_lane
from tests.engine.builder import diagram, end_event, flows, service_task, start_event, user_task
from tests.engine.support import deploy, event_types, events, human_task_rows, incidents, instance_row, start


class Inventory:
    """A pretend configuration database: the services below read it, and a test can take it down."""

    def __init__(self) -> None:
        self.reachable = True
        self.failure: Exception | None = None  # raised as is (not as a ServiceError) when set
        self.calls: list[str] = []


@pytest.fixture
def inventory() -> Inventory:
    return Inventory()


@pytest.fixture
def services(inventory: Inventory) -> ServiceRegistry:
    registry = ServiceRegistry()

    @registry.register()
    def find_owner(context: ServiceContext, host: str) -> dict[str, Any]:
        inventory.calls.append(host)
        if inventory.failure is not None:
            raise inventory.failure
        if not inventory.reachable:
            raise ServiceError("the inventory is unreachable")
        return {"host": host, "owner": "network team", "checked_at": datetime(2026, 12, 1, 9, tzinfo=UTC)}

    @registry.register()
    def hosts(context: ServiceContext) -> set[str]:
        return {"mail-1"}  # a set is not JSON

    @registry.register()
    def note_on(context: ServiceContext, business_key: str) -> dict[str, Any]:
        context.record_event(business_key, EventType.RELEASE_OUTCOME, {"outcome": "noted"})
        return {"noted": business_key}

    @registry.register()
    def note_on_all(context: ServiceContext, business_keys: list[str]) -> dict[str, Any]:
        for key in business_keys:  # the first write succeeds before a later key fails
            context.record_event(key, EventType.RELEASE_OUTCOME, {"outcome": "noted"})
        return {"noted": business_keys}

    return registry


@pytest.fixture
def service_engine(database, clock, shipped_forms, services: ServiceRegistry) -> Engine:
    return Engine(database, lane_roles=role_for_lane, clock=clock, find_form=shipped_forms.get, services=services,
                  script_time_limit=1.0, business_keys=BUSINESS_KEY_PREFIXES)


def _calling(operator: str, parameters: dict[str, str]) -> str:
    """start -> lookup (the service) -> confirm (a user task) -> end."""
    return diagram(start_event() + service_task("lookup", operator, parameters, result="found", name="Look up")
                   + user_task("confirm", "Confirm") + end_event() + flows("start", "lookup", "confirm", "end"),
                   {"Practitioner": ["confirm"]})


FIND_OWNER = _calling("find_owner", {"host": "host"})
REVIEW = diagram(start_event() + user_task("review", "Review") + end_event() + flows("start", "review", "end"),
                 {"Practitioner": ["review"]})


def test_a_working_service_stores_its_result_as_json(service_engine, inventory):
    deploy(service_engine, FIND_OWNER)

    instance = start(service_engine, data={"host": "mail-1"})

    assert instance.status is InstanceStatus.RUNNING, instance.incident
    assert instance.data["found"] == {"host": "mail-1", "owner": "network team",
                                      "checked_at": "2026-12-01T09:00:00+00:00"}
    assert [task.element_id for task in instance.tasks] == ["confirm"]
    assert inventory.calls == ["mail-1"]


def test_a_service_error_is_an_incident_naming_the_service_task(service_engine, inventory):
    inventory.reachable = False
    deploy(service_engine, FIND_OWNER)

    instance = start(service_engine, data={"host": "mail-1"})

    assert instance.status is InstanceStatus.ERROR and instance.tasks == []
    incident = instance.incident
    assert (incident.element_id, incident.error_type, incident.line) == ("lookup", "ServiceError", None)
    assert incident.message == "Service 'find_owner' failed: ServiceError: the inventory is unreachable"
    assert incident.task_id is not None
    # Nothing past the failed task happened: no task opened, no result stored; the failure is audited.
    assert human_task_rows(service_engine, instance.id) == []
    assert "found" not in instance.data
    assert event_types(service_engine, instance.id) == [EventType.STARTED, EventType.ERROR]
    error = events(service_engine, instance.id)[-1]
    assert (error.data["element_id"], error.data["error_type"]) == ("lookup", "ServiceError")
    assert instance_row(service_engine, instance.id).status is InstanceStatus.ERROR


def test_a_retry_after_the_service_is_back_runs_it_again_and_goes_on(service_engine, inventory):
    inventory.reachable = False
    deploy(service_engine, FIND_OWNER)
    instance = start(service_engine, data={"host": "mail-1"})
    still_down = service_engine.run(RetryInstance(instance.id), actor="mike")
    assert still_down.status is InstanceStatus.ERROR and still_down.incident.element_id == "lookup"

    inventory.reachable = True
    retried = service_engine.run(RetryInstance(instance.id), actor="mike")

    assert retried.status is InstanceStatus.RUNNING and retried.incident is None
    assert retried.data["found"]["owner"] == "network team"
    assert [(task.element_id, task.state) for task in retried.tasks] == [("confirm", TaskStatus.OPEN)]
    assert inventory.calls == ["mail-1", "mail-1", "mail-1"]
    assert [(row.resolved_by, row.resolved_at is not None) for row in incidents(service_engine, instance.id)] == [
        ("mike", True), ("mike", True)]
    assert event_types(service_engine, instance.id) == [
        EventType.STARTED, EventType.ERROR, EventType.RETRIED, EventType.ERROR, EventType.RETRIED]


def test_cancelling_an_instance_stuck_on_a_failing_service_resolves_its_incident(service_engine, inventory):
    inventory.reachable = False
    deploy(service_engine, FIND_OWNER)
    instance = start(service_engine, data={"host": "mail-1"})

    cancelled = service_engine.run(CancelInstance(instance.id, reason="host retired"), actor="mike")

    assert cancelled.status is InstanceStatus.CANCELLED and cancelled.incident is None
    [incident] = incidents(service_engine, instance.id)
    assert incident.resolved_by == "mike" and incident.resolved_at is not None
    assert inventory.calls == ["mail-1"]  # cancelling does not call the service again
    with pytest.raises(Conflict):
        service_engine.run(RetryInstance(instance.id), actor="mike")


def test_a_retry_with_corrected_parameters_calls_the_service_with_them(service_engine, inventory):
    deploy(service_engine, _calling("find_owner", {"host": "host.strip()"}))
    instance = start(service_engine, data={"host": 42})  # int has no strip(): the parameter fails
    assert instance.status is InstanceStatus.ERROR and instance.incident.element_id == "lookup"
    assert inventory.calls == []

    retried = service_engine.run(RetryInstance(instance.id, {"host": " mail-2 "}), actor="mike")

    assert retried.status is InstanceStatus.RUNNING, retried.incident
    assert inventory.calls == ["mail-2"] and retried.data["found"]["host"] == "mail-2"


def test_a_service_result_that_is_not_json_is_an_incident(service_engine):
    deploy(service_engine, _calling("hosts", {}))

    instance = start(service_engine)

    assert instance.status is InstanceStatus.ERROR
    assert (instance.incident.element_id, instance.incident.error_type) == ("lookup", "TypeError")
    assert instance.incident.message == "Service 'hosts' failed: TypeError: a service returned a set, which is not JSON"


def test_a_service_writing_to_a_missing_instance_is_an_incident_and_writes_nothing(service_engine):
    deploy(service_engine, _calling("note_on", {"business_key": "'CHG-000099'"}))

    instance = start(service_engine)

    assert instance.status is InstanceStatus.ERROR and instance.incident.element_id == "lookup"
    assert instance.incident.message == ("Service 'note_on' failed: ServiceError: there is no instance CHG-000099 "
                                         "that CHG-000001 may write to")
    assert EventType.RELEASE_OUTCOME not in event_types(service_engine, instance.id)


def test_a_service_can_write_to_an_instances_audit_trail(service_engine):
    deploy(service_engine, _calling("note_on", {"business_key": "'CHG-000001'"}))
    first = start(service_engine)  # CHG-000001 notes on itself, which exists by then

    assert first.status is InstanceStatus.RUNNING, first.incident
    [outcome] = [event for event in events(service_engine, first.id) if event.type is EventType.RELEASE_OUTCOME]
    assert outcome.data == {"source": "CHG-000001", "outcome": "noted"}


def test_a_failing_service_leaves_no_partial_writes(service_engine):
    deploy(service_engine, REVIEW, key="target")
    target = start(service_engine, "target")  # CHG-000001
    deploy(service_engine, _calling("note_on_all", {"business_keys": "['CHG-000001', 'CHG-000099']"}))

    failed = start(service_engine)

    assert failed.status is InstanceStatus.ERROR
    assert EventType.RELEASE_OUTCOME not in event_types(service_engine, target.id)


@pytest.mark.parametrize("failure", [RuntimeError("connection reset by peer"), ConnectionError("no route to host")],
                         ids=["RuntimeError", "ConnectionError"])
def test_an_unexpected_exception_in_a_service_is_an_incident_too(service_engine, inventory, failure):
    inventory.failure = failure
    deploy(service_engine, FIND_OWNER)

    instance = start(service_engine, data={"host": "mail-1"})

    assert instance.status is InstanceStatus.ERROR
    name = type(failure).__name__
    assert (instance.incident.element_id, instance.incident.error_type) == ("lookup", name)
    assert instance.incident.message == f"Service 'find_owner' failed: {name}: {failure}"
    inventory.failure = None
    retried = service_engine.run(RetryInstance(instance.id), actor="mike")
    assert retried.status is InstanceStatus.RUNNING and retried.data["found"]["host"] == "mail-1"


def test_a_built_in_service_refuses_a_parameter_of_the_wrong_type_with_an_incident(engine):
    # The shipped registry: check_changes_authorized needs a list of business keys, not one key.
    deploy(engine, _calling("check_changes_authorized", {"change_keys": "'CHG-000001'"}))

    instance = start(engine)

    assert instance.status is InstanceStatus.ERROR and instance.incident.element_id == "lookup"
    assert instance.incident.message == ("Service 'check_changes_authorized' failed: ServiceError: change_keys must "
                                         "be a list of change business keys")
