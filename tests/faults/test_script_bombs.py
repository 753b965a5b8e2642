"""Script bombs against real servers: the embedded server (SQLite) and gunicorn (SQLite and PostgreSQL).

Each bomb is a process owner's diagram. Before issue 9, ``raise SystemExit(3)`` shut gunicorn's master
down, a timer-fired one killed the timer thread or worker for good, C-level work froze a worker past the
time limit, and huge allocations took gigabytes. Now each ends as an incident on its own instance, while
a reader polls the server throughout: it never sees a 5xx or a refused connection, and the server, its
timer thread or worker, and a healthy process are all still working at the end.
"""

from __future__ import annotations

import threading

import pytest
import requests

from tests.engine.builder import diagram, end_event, flows, script_task, start_event, timer_catch
from tests.faults.servers import Api, Server, prepare_database, timer_worker

pytestmark = pytest.mark.slow

BOMBS = [
    ("raise SystemExit(3)", "SystemExit"),
    ("raise SystemExit(0)", "SystemExit"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt"),
    ("raise GeneratorExit", "GeneratorExit"),
    ("raise BaseException('bye')", "BaseException"),
    ("while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
     "ScriptTimeout"),
    ("x = math.factorial(10 ** 8)", "ScriptTimeout"),
    ("x = 10 ** 10 ** 10", "ScriptTimeout"),
    ("x = 'a' * 10 ** 10", "MemoryError"),
    ("x = [0] * 10 ** 10", "MemoryError"),
    ("x = float('nan')", "ScriptError"),
    ("x = 'a' + chr(0xD800)", "ScriptError"),
]


def script_process(script: str) -> str:
    return diagram(start_event() + script_task("work", script) + end_event() + flows("start", "work", "end"))


def timer_process(script: str) -> str:
    return diagram(start_event() + timer_catch("pause", "timeDuration", "PT1S") + script_task("work", script)
                   + end_event() + flows("start", "pause", "work", "end"))


class Reader(threading.Thread):
    """Reads from the server all along; notes any 5xx or failed connection."""

    def __init__(self, api: Api) -> None:
        super().__init__(daemon=True)
        self.api = api
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.reads = 0

    def run(self) -> None:
        while not self.stop.is_set():
            for path in ("/healthz", "/api/me", "/api/tasks?scope=all"):
                try:
                    response = self.api.call("GET", path, "admin")
                except requests.RequestException as error:
                    self.problems.append(f"{path}: {error}")
                    continue
                self.reads += 1
                if response.status_code >= 500:
                    self.problems.append(f"{path}: {response.status_code} {response.text[:200]}")
            self.stop.wait(0.05)


@pytest.mark.parametrize("kind", ["embedded", "gunicorn"])
def test_script_bombs_end_as_incidents_and_the_server_carries_on(fresh_database_url, kind):
    if kind == "embedded" and not fresh_database_url.startswith("sqlite"):
        pytest.skip("the embedded server is the SQLite set-up; gunicorn covers PostgreSQL")
    tokens = prepare_database(fresh_database_url)
    server = Server(fresh_database_url, kind).wait_until_healthy()
    worker = timer_worker(fresh_database_url) if kind == "gunicorn" else None
    api = Api(server.base, tokens)
    reader = Reader(api)
    reader.start()
    try:
        for index, (script, _error_type) in enumerate(BOMBS):
            api.ok("POST", f"/api/process-models/bomb{index}/versions", "change-owner", 201,
                   json={"bpmn": script_process(script), "practice": "change"})
        api.ok("POST", "/api/process-models/timer_bomb/versions", "change-owner", 201,
               json={"bpmn": timer_process("x = 1\nraise SystemExit(3)"), "practice": "change"})
        api.ok("POST", "/api/process-models/timer_ok/versions", "change-owner", 201,
               json={"bpmn": timer_process("woke = True"), "practice": "change"})

        timer_bomb = api.ok("POST", "/api/instances", "change-practitioner", 201, json={"process": "timer_bomb"})
        outcomes = []
        for index in range(len(BOMBS)):
            instance = api.ok("POST", "/api/instances", "change-practitioner", 201, json={"process": f"bomb{index}"})
            outcomes.append((index, instance["status"], (instance["incident"] or {}).get("error_type")))
        assert outcomes == [(index, "error", error_type) for index, (_script, error_type) in enumerate(BOMBS)]

        # The timer thread (embedded) or the worker (gunicorn) fired the bomb, and goes on firing timers.
        exploded = api.wait_for(timer_bomb["id"], lambda instance: instance["status"] != "waiting")
        assert (exploded["status"], exploded["incident"]["error_type"]) == ("error", "SystemExit")
        healthy = api.ok("POST", "/api/instances", "change-practitioner", 201, json={"process": "timer_ok"})
        woke = api.wait_for(healthy["id"], lambda instance: instance["status"] != "waiting")
        assert (woke["status"], woke["data"]) == ("completed", {"woke": True})
        assert server.alive and (worker is None or worker.alive)
    finally:
        reader.stop.set()
        reader.join(timeout=30)
        code = server.stop()
        if worker is not None:
            worker.stop()
    assert reader.problems == [] and reader.reads > 10, reader.problems[:10]
    assert code in (0, -15), server.output()
    assert "Traceback" not in server.output(), server.output()
