"""kill -9 mid-burst, on SQLite and PostgreSQL: nothing acknowledged is lost and nothing is half-applied.

Clients run short lifecycles (start, complete two tasks) against the embedded server while it is killed
with SIGKILL and restarted, several times. Timer workers are killed the same way while they fire a batch of
due timers. Afterwards every instance's saved state, its task rows and its audit events must agree, every
acknowledged start and completion must be there, and every timer must have fired exactly once.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from cab import register_cab_services
from engine import Database, Engine, StartInstance
from engine.models import Event, HumanTask, Incident, ProcessInstance
from engine.runtime import LiveWorkflow
from engine.scripting import ScriptEngine
from engine.states import EventType, InstanceStatus, TaskStatus
from engine.store import Store
from itsm import BUSINESS_KEY_PREFIXES, itsm_services
from roles.policy import role_for_lane
from tests.engine.builder import diagram, end_event, flows, script_task, start_event, user_task
from tests.faults.servers import Api, Server, prepare_database, timer_worker

pytestmark = pytest.mark.slow

KILLS = 3
CLIENTS = 4
TIMERS = 60
TWO_STEPS = diagram(start_event() + user_task("first", "First") + user_task("second", "Second") + end_event()
                    + flows("start", "first", "second", "end"), {"Practitioner": ["start", "first", "second"]})
WAKE_UP = diagram(start_event() + '<bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition id="t">'
                  '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">wake_at</bpmn:timeDate>'
                  "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n"
                  + script_task("work", "woke = True") + end_event() + flows("start", "pause", "work", "end"))


class Burst:
    """Client threads running lifecycles, noting what the server acknowledged."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.started: set[int] = set()
        self.completed: set[str] = set()  # task ids whose completion was answered 200
        self.server_errors: list[str] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def wait_for_completions(self, count: int, deadline: float = 120.0) -> None:
        """Until ``count`` more completions are acknowledged (the burst is making progress)."""
        target, give_up = len(self.completed) + count, time.monotonic() + deadline
        while len(self.completed) < target:
            assert time.monotonic() < give_up, f"no progress: {len(self.completed)} completions, {self.server_errors}"
            time.sleep(0.05)

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        try:
            response = self.api.call(method, path, "change-practitioner", **kwargs)
        except requests.RequestException:
            time.sleep(0.05)  # the server is down (being killed or restarted)
            return None
        if response.status_code >= 500:
            with self.lock:
                self.server_errors.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response

    def _run(self) -> None:
        while not self.stop.is_set():
            response = self._call("POST", "/api/instances", json={"process": "two_steps"})
            if response is None or response.status_code != 201:
                continue
            instance = response.json()
            with self.lock:
                self.started.add(instance["id"])
            for _step in range(2):
                self._complete_next(instance["id"])

    def _complete_next(self, instance_id: int) -> None:
        for _attempt in range(50):  # the answer may be lost in a kill: look again at what is open
            if self.stop.is_set():
                return
            response = self._call("GET", f"/api/instances/{instance_id}")
            if response is None or response.status_code != 200:
                continue
            tasks = response.json()["tasks"]
            if not tasks:
                return
            task_id = tasks[0]["id"]
            answer = self._call("POST", f"/api/tasks/{task_id}/complete", json={"data": {}})
            if answer is not None and answer.status_code == 200:
                with self.lock:
                    self.completed.add(task_id)
                return


def check_consistency(url: str) -> dict[str, Any]:
    """Saved state, task rows and events agree for every instance; returns what it found."""
    engine = Engine(Database(url), lane_roles=role_for_lane, services=register_cab_services(itsm_services()),
                    business_keys=BUSINESS_KEY_PREFIXES)
    try:
        with engine.database.snapshot() as session:
            store = Store(session)
            instances = list(session.scalars(select(ProcessInstance)))
            tasks = list(session.scalars(select(HumanTask)))
            events = list(session.scalars(select(Event)))
            incidents = list(session.scalars(select(Incident)))
            completed_events: dict[str, int] = {}
            for event in events:
                if event.type is EventType.COMPLETED:
                    completed_events[event.task_id] = completed_events.get(event.task_id, 0) + 1
            for row in tasks:
                expected = 1 if row.status is TaskStatus.COMPLETED else 0
                assert completed_events.get(row.id, 0) == expected, (row.id, row.status, completed_events.get(row.id))
            assert set(completed_events) <= {row.id for row in tasks}
            for instance in instances:
                full = store.get_instance(instance.id, with_state=True)
                bundle = engine.bundle(store, instance.version_id)
                workflow = engine.codec.loads(full.state, bundle, ScriptEngine(engine.sandbox))
                run = LiveWorkflow(workflow, bundle)
                ready = {task.id for task in run.ready_human_tasks()}
                open_rows = {row.id for row in tasks if row.instance_id == instance.id
                             and row.status in (TaskStatus.OPEN, TaskStatus.SUSPENDED)}
                assert ready == open_rows, (instance.business_key, ready, open_rows)
                finished = run.is_finished()
                assert (instance.status is InstanceStatus.COMPLETED) == finished, (instance.business_key,
                                                                                  instance.status)
                ended = [e for e in events if e.instance_id == instance.id and e.type is EventType.INSTANCE_COMPLETED]
                assert len(ended) == (1 if finished else 0), instance.business_key
        return {"instances": instances, "tasks": tasks, "events": events, "incidents": incidents}
    finally:
        engine.database.dispose()


def test_killing_the_server_mid_burst_loses_nothing_acknowledged(fresh_database_url):
    tokens = prepare_database(fresh_database_url)
    server = Server(fresh_database_url, "embedded").wait_until_healthy()
    api = Api(server.base, tokens)
    api.ok("POST", "/api/process-models/two_steps/versions", "change-owner", 201,
           json={"bpmn": TWO_STEPS, "practice": "change"})
    burst = Burst(api)
    for thread in burst.threads:
        thread.start()
    kills = 0
    try:
        while kills < KILLS:
            burst.wait_for_completions(15)  # let some work be acknowledged first
            server.kill9()
            kills += 1
            server = Server(fresh_database_url, "embedded").wait_until_healthy()
            api.base = server.base
        burst.wait_for_completions(30)
    finally:
        burst.stop.set()
        for thread in burst.threads:
            thread.join(timeout=60)
        server.stop()

    found = check_consistency(fresh_database_url)
    assert burst.server_errors == []
    assert burst.started <= {instance.id for instance in found["instances"]}
    done = {row.id for row in found["tasks"] if row.status is TaskStatus.COMPLETED}
    assert burst.completed <= done, burst.completed - done
    assert len(burst.completed) >= 60 and kills == KILLS
    assert found["incidents"] == []


def test_killing_timer_workers_mid_pass_fires_every_timer_exactly_once(fresh_database_url):
    prepare_database(fresh_database_url)
    engine = Engine(Database(fresh_database_url), lane_roles=role_for_lane,
                    services=register_cab_services(itsm_services()), business_keys=BUSINESS_KEY_PREFIXES)
    from tests.engine.support import deploy

    deploy(engine, WAKE_UP, key="wake_up", forms={})
    wake_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    ids = [engine.run(StartInstance("wake_up", {"wake_at": wake_at}), actor="test").id for _ in range(TIMERS)]
    engine.database.dispose()
    workers = [timer_worker(fresh_database_url) for _ in range(3)]
    chooser = random.Random(9)
    kills = 0
    give_up = time.monotonic() + 90
    try:
        while time.monotonic() < give_up:
            time.sleep(chooser.uniform(0.3, 0.8))
            index = chooser.randrange(len(workers))
            workers[index].kill9()
            kills += 1
            workers[index] = timer_worker(fresh_database_url)
            if kills >= 4 and _all_completed(fresh_database_url, ids):
                break
    finally:
        for worker in workers:
            worker.stop()

    found = check_consistency(fresh_database_url)
    fired: dict[int, int] = {}
    for event in found["events"]:
        if event.type is EventType.TIMER_FIRED:
            fired[event.instance_id] = fired.get(event.instance_id, 0) + 1
    assert fired == {instance_id: 1 for instance_id in ids}
    assert {i.status for i in found["instances"]} == {InstanceStatus.COMPLETED}
    assert found["incidents"] == [] and kills >= 4


def _all_completed(url: str, ids: list[int]) -> bool:
    database = Database(url)
    try:
        with database.snapshot() as session:
            statuses = set(session.scalars(select(ProcessInstance.status).where(ProcessInstance.id.in_(ids))))
        return statuses == {InstanceStatus.COMPLETED}
    finally:
        database.dispose()
