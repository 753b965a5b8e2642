"""Drive a shipped process through the HTTP API, one step per line, as the people in its lanes would.

A path test reads like the path it walks::

    run = ProcessRun(client, people, "normal_change", as_="change-practitioner", data=REQUEST)
    run.expect_data(risk="low")
    run.expect_tasks({"assess_change": "change-manager"})       # open, and seen by change-manager only
    run.complete("assess_change", as_="change-manager", assessment_decision="accept")
    run.advance(hours=49)                                        # moves the fake clock, fires due timers
    run.expect_tasks({"authorize_change": "change-manager", "escalate_overdue_authorization": "change-owner"})
    run.expect_status("running")
    run.expect_trail(("started", "change-practitioner"), ("completed", "change-manager", "assess_change"),
                     ("timer_fired", "system", "authorization_overdue"))

Every call is a real request through the Flask test client, with the bearer token of the named user (the
``people`` fixture of ``tests/conftest.py``, plus anyone added with ``enrol``). "Who sees a task" always
means: the task is in that user's default ``GET /api/tasks`` list, the open tasks they may act on now.

When a step fails, a ``StepFailed`` (an ``AssertionError``) names the instance, the step, the request and
what the API answered, and lists the steps before it. A 5xx answer fails the step whatever it expected.
``TimerNotFired`` and ``TrailMismatch`` are the specific failures of ``advance`` and ``expect_trail``.

See docs/testing-processes.md for a worked example.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

__all__ = ["Api", "ProcessRun", "StepFailed", "TimerNotFired", "TrailEntry", "TrailMismatch", "enrol"]

# One audit event as ``expect_trail`` takes it: (type, actor) or (type, actor, element_id).
TrailEntry = tuple[str, ...]


class StepFailed(AssertionError):
    """A step of a path test did not go as expected; the message says which step and what the API answered."""


class TimerNotFired(StepFailed):
    """The clock passed a timer of the instance, yet firing the due timers did not move the instance on."""


class TrailMismatch(StepFailed):
    """The instance's audit trail is not the one expected."""


class Api:
    """The HTTP API as a given user sees it, with failure messages that show the answer."""

    def __init__(self, client: Any, people: Any) -> None:
        self.client = client
        self.people = people

    @property
    def usernames(self) -> list[str]:
        """Everyone the test holds a token for."""
        return sorted(self.people.tokens)

    def call(self, method: str, path: str, *, as_: str, json_body: Any = None, expect: int = 200,
             step: str | None = None, query: Mapping[str, Any] | None = None) -> Any:
        """Send one request as ``as_``; fail unless it answers ``expect``. Returns the JSON body."""
        response = self.client.open(path, method=method, json=json_body, query_string=dict(query or {}),
                                    headers=self.people.headers(as_))
        body = response.get_json(silent=True)
        if response.status_code != expect or response.status_code >= 500:
            shown = body if body is not None else response.get_data(as_text=True)
            raise StepFailed((f"{step}\n" if step else "") + f"  {method} {path} as {as_} answered "
                             f"{response.status_code}, expected {expect}:\n{_pretty(shown)}")
        return body

    def task_list(self, username: str) -> list[dict[str, Any]]:
        """The user's default task list: the open tasks they may act on now."""
        return self.call("GET", "/api/tasks", as_=username, step=f"task list of {username}",
                         query={"per_page": 200})


def enrol(client: Any, people: Any, username: str, *grants: str) -> str:
    """Create a user through the admin API with roles such as ``"manager:change"``; return the username.

    The user's token joins ``people``, so from then on every ``ProcessRun`` audience check includes them.
    """
    api, step = Api(client, people), f"enrol {username}"
    api.call("POST", "/api/users", as_="admin", json_body={"username": username}, expect=201, step=step)
    for grant in grants:
        role, practice = grant.split(":")
        api.call("POST", "/api/role-assignments", as_="admin", expect=201, step=step,
                 json_body={"user": username, "role": role, "practice": practice})
    issued = api.call("POST", f"/api/users/{username}/tokens", as_="admin", json_body={}, expect=201, step=step)
    people.tokens[username] = issued["token"]
    return username


class ProcessRun:
    """One instance of a deployed process, started through ``POST /api/instances`` by ``as_``.

    ``run.id``, ``run.business_key`` and ``run.requester`` identify it. Reads (``instance``, ``data``,
    ``events``) go through the API as the requester, or as the user named with ``as_``.
    """

    def __init__(self, client: Any, people: Any, process: str, *, as_: str, data: Mapping[str, Any],
                 version: int | None = None) -> None:
        self.api = Api(client, people)
        self.process = process
        self.requester = as_
        self.history: list[str] = []
        body: dict[str, Any] = {"process": process, "data": dict(data)}
        if version is not None:
            body["version"] = version
        step = f"start {process} as {as_}"
        started = self.api.call("POST", "/api/instances", as_=as_, json_body=body, expect=201,
                                step=f"{process}, step 1: {step}")
        self.id: int = started["id"]
        self.business_key: str = started["business_key"]
        self.history.append(step)

    @staticmethod
    def refused(client: Any, people: Any, process: str, *, as_: str, data: Mapping[str, Any],
                expect: int = 422) -> dict[str, Any]:
        """Starting ``process`` as ``as_`` must answer ``expect`` (a 4xx); returns the problem body."""
        return Api(client, people).call("POST", "/api/instances", as_=as_, expect=expect,
                                        json_body={"process": process, "data": dict(data)},
                                        step=f"start {process} as {as_} (expecting {expect})")

    # -- reading -------------------------------------------------------------------------------------

    def instance(self, *, as_: str | None = None) -> dict[str, Any]:
        """``GET /api/instances/{id}``: status, data, open tasks, next timer."""
        return self._call("read the instance", "GET", f"/api/instances/{self.id}", as_=as_ or self.requester)

    @property
    def data(self) -> dict[str, Any]:
        return self.instance()["data"]

    @property
    def status(self) -> str:
        return self.instance()["status"]

    def open_tasks(self) -> list[dict[str, Any]]:
        return self.instance()["tasks"]

    def task(self, element_id: str) -> dict[str, Any]:
        """The one open task of this instance at ``element_id``."""
        tasks = self.open_tasks()
        found = [task for task in tasks if task["element_id"] == element_id]
        if len(found) != 1:
            raise StepFailed(self._where(f"expected one open task '{element_id}'; {_summary(tasks)}"))
        return found[0]

    def tasks(self, state: str, *, as_: str | None = None) -> list[dict[str, Any]]:
        """This instance's tasks in ``state`` (``open``, ``completed``, ``cancelled``...), oldest first."""
        return self._call(f"list its {state} tasks", "GET", "/api/tasks", as_=as_ or self.requester,
                          query={"scope": "all", "instance": self.id, "state": state, "per_page": 200})

    def events(self, *, as_: str | None = None) -> list[dict[str, Any]]:
        """The audit trail, oldest first (``GET /api/instances/{id}/events``)."""
        return self._call("read the events", "GET", f"/api/instances/{self.id}/events", as_=as_ or self.requester,
                          query={"per_page": 200})

    def trail(self, *, as_: str | None = None) -> list[tuple[str, str, str | None]]:
        """The audit trail as ``(type, actor, element_id)`` tuples (element_id None when there is none)."""
        return [(event["type"], event["actor"], event["data"].get("element_id")) for event in self.events(as_=as_)]

    def audiences(self, users: Iterable[str] | None = None) -> dict[str, set[str]]:
        """Who sees each open task of this instance: element id -> the users with it in their task list.

        Only ``users`` are asked (everyone the test knows by default), each with one task-list request.
        """
        tasks = {task["id"]: task["element_id"] for task in self.open_tasks()}
        seen: dict[str, set[str]] = {element_id: set() for element_id in tasks.values()}
        for user in self.api.usernames if users is None else users:
            for listed in self.api.task_list(user):
                if listed["id"] in tasks:
                    seen[tasks[listed["id"]]].add(user)
        return seen

    def who_sees(self, element_id: str, users: Iterable[str] | None = None) -> set[str]:
        """The users (of ``users``, or of everyone) with this instance's open ``element_id`` task in their list."""
        seen = self.audiences(users)
        if element_id not in seen:
            self.task(element_id)  # raises, naming what is open instead
        return seen[element_id]

    # -- checking ------------------------------------------------------------------------------------

    def expect_tasks(self, expected: Mapping[str, str | Iterable[str]]) -> None:
        """Exactly these tasks are open, and each is seen by exactly the user (or users) named for it.

        Everyone else the test knows (other roles, the other practice, users barred by separation of
        duties, ``nobody``, ``admin``) must not have it in their list. ``expect_tasks({})``: nothing is open.
        """
        wanted = {element_id: {users} if isinstance(users, str) else set(users)
                  for element_id, users in expected.items()}
        actual = self.audiences()
        if actual != wanted:
            lines = [f"  {element_id}: expected {_names(wanted.get(element_id))}, "
                     f"{'seen by ' + _names(actual[element_id]) if element_id in actual else 'not open'}"
                     for element_id in sorted(set(wanted) | set(actual))
                     if wanted.get(element_id) != actual.get(element_id)]
            raise StepFailed(self._where("the open tasks or who sees them differ:\n" + "\n".join(lines)))

    def visible_to(self, element_id: str, *users: str) -> None:
        """The open ``element_id`` task is in each of these users' task lists."""
        missing = sorted(set(users) - self.who_sees(element_id, users))
        if missing:
            raise StepFailed(self._where(f"'{element_id}' is not in the task list of {', '.join(missing)}"))

    def not_visible_to(self, element_id: str, *users: str) -> None:
        """The open ``element_id`` task is in none of these users' task lists."""
        seen = sorted(set(users) & self.who_sees(element_id, users))
        if seen:
            raise StepFailed(self._where(f"'{element_id}' should not be in the task list of {', '.join(seen)}"))

    def expect_status(self, status: str) -> None:
        """The instance's status (``running``, ``waiting``, ``completed``, ``cancelled``...)."""
        actual = self.instance()
        if actual["status"] != status:
            raise StepFailed(self._where(f"expected status '{status}', it is '{actual['status']}'; "
                                         f"{_summary(actual['tasks'])}; incident: {_pretty(actual['incident'])}"))

    def expect_data(self, **fields: Any) -> None:
        """The instance's data holds these values (fields not named are not checked)."""
        data = self.data
        wrong = [f"  {name}: expected {value!r}, got {data.get(name, '<missing>')!r}"
                 for name, value in fields.items() if name not in data or data[name] != value]
        if wrong:
            raise StepFailed(self._where("unexpected data:\n" + "\n".join(wrong)))

    def expect_trail(self, *entries: TrailEntry, as_: str | None = None) -> None:
        """The whole audit trail, in order: ``(type, actor)`` or ``(type, actor, element_id)`` per event."""
        actual = self.trail(as_=as_)
        rows, same = [], len(actual) == len(entries)
        for index in range(max(len(actual), len(entries))):
            want = tuple(entries[index]) if index < len(entries) else None
            got = actual[index] if index < len(actual) else None
            ok = want is not None and got is not None and got[:len(want)] == want
            same = same and ok
            rows.append(f"  {'  ' if ok else '!!'} {index:>2}  expected {want or '-'}  got {got or '-'}")
        if not same:
            raise TrailMismatch(self._where("the audit trail differs:\n" + "\n".join(rows)))

    # -- acting --------------------------------------------------------------------------------------

    def complete(self, element_id: str, *, as_: str, expect: int = 200, mentions: str | None = None,
                 data: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """``as_`` completes the open ``element_id`` task with the form fields given as keywords (or ``data``).

        When success is expected, the task must first be in ``as_``'s task list. Otherwise the request must
        answer ``expect`` (403, 409, 422...) and, when ``mentions`` is given, its detail must contain it.
        Returns the answer: the completion (instance status, next tasks) or the problem.
        """
        step = f"complete {element_id} as {as_}" + (f" (expecting {expect})" if expect != 200 else "")
        task = self.task(element_id)
        if expect == 200 and not any(listed["id"] == task["id"] for listed in self.api.task_list(as_)):
            raise StepFailed(self._where(f"'{element_id}' is not in the task list of {as_}"))
        body = self._call(step, "POST", f"/api/tasks/{task['id']}/complete", as_=as_, expect=expect,
                          json_body={"data": {**(data or {}), **fields}})
        self._check_mentions(body, mentions, step)
        self.history.append(step)
        return body

    def work(self, element_id: str, topic: str, *, as_: str, worker: str = "ci-worker", expect: int = 200,
             mentions: str | None = None, **variables: Any) -> dict[str, Any]:
        """A worker with ``as_``'s token fetches and locks ``topic`` and completes this instance's external task
        ``element_id`` with ``variables``. Returns the completion, or the problem when ``expect`` is not 200."""
        step = f"work {element_id} ({topic}) as {as_}" + (f" (expecting {expect})" if expect != 200 else "")
        locked = self._call(step, "POST", "/api/external-tasks/fetch-and-lock", as_=as_, json_body={
            "worker_id": worker, "max_tasks": 100, "topics": [{"topic": topic, "lock_duration": 600_000}]})
        mine = [task for task in locked if task["instance_id"] == self.id and task["element_id"] == element_id]
        if len(mine) != 1:
            raise StepFailed(self._where(f"{step}: the worker fetched {_pretty(locked)}, not one '{element_id}' of "
                                         f"{self.business_key}"))
        body = self._call(step, "POST", f"/api/external-tasks/{mine[0]['id']}/complete", as_=as_, expect=expect,
                          json_body={"worker_id": worker, "variables": variables})
        self._check_mentions(body, mentions, step)
        self.history.append(step)
        return body

    def claim(self, element_id: str, *, as_: str, expect: int = 200, mentions: str | None = None) -> dict[str, Any]:
        """``as_`` claims the open ``element_id`` task; returns the task, or the problem when ``expect`` is not 200."""
        step = f"claim {element_id} as {as_}" + (f" (expecting {expect})" if expect != 200 else "")
        task = self.task(element_id)
        body = self._call(step, "POST", f"/api/tasks/{task['id']}/claim", as_=as_, expect=expect)
        self._check_mentions(body, mentions, step)
        self.history.append(step)
        return body

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0, to: datetime | None = None) -> None:
        """Move the app's fake clock forward (by a duration, or ``to`` a moment), then fire the due timers.

        Fails with ``TimerNotFired`` when this instance still has a timer due after that.
        """
        engine = self._engine()
        moment = to if to is not None else engine.clock.now() + timedelta(days=days, hours=hours, minutes=minutes)
        if moment < engine.clock.now():
            raise StepFailed(self._where(f"cannot move the clock back from {engine.clock.now()} to {moment}"))
        engine.clock.set(moment)
        engine.fire_due_timers()
        after = self.instance()
        due = after["next_timer_at"]
        if after["status"] in ("running", "waiting") and due is not None and datetime.fromisoformat(due) <= moment:
            raise TimerNotFired(self._where(
                f"the clock moved to {moment.isoformat()}, but the timer due at {due} did not fire (status "
                f"{after['status']}; {_summary(after['tasks'])}); the engine logs why"))
        self.history.append(f"advance the clock to {moment.isoformat()}")

    def now(self) -> datetime:
        """The app's (fake) clock."""
        return self._engine().clock.now()

    # -- helpers -------------------------------------------------------------------------------------

    def _call(self, step: str, method: str, path: str, **request: Any) -> Any:
        try:
            return self.api.call(method, path, **request)
        except StepFailed as failure:
            raise StepFailed(self._where(f"{step}\n{failure}")) from None

    def _engine(self) -> Any:
        return self.api.client.application.extensions["changeflow"].engine

    def _check_mentions(self, body: Any, mentions: str | None, step: str) -> None:
        if mentions is not None and mentions.lower() not in str((body or {}).get("detail", "")).lower():
            raise StepFailed(self._where(f"{step}: the answer should mention '{mentions}':\n{_pretty(body)}"))

    def _where(self, message: str) -> str:
        done = "; ".join(self.history[-6:]) or "nothing yet"
        return f"{self.business_key} ({self.process}), step {len(self.history) + 1}: {message}\n  after: {done}"


def _summary(tasks: list[dict[str, Any]]) -> str:
    if not tasks:
        return "no task is open"
    return "open: " + ", ".join(f"{t['element_id']} ({t['role']}, assignee {t['assignee']})" for t in tasks)


def _names(users: set[str] | None) -> str:
    return "not open" if users is None else "{" + ", ".join(sorted(users)) + "}" if users else "nobody"


def _pretty(body: Any) -> str:
    return "\n".join(f"    {line}" for line in json.dumps(body, indent=2, sort_keys=True, default=str).splitlines())
