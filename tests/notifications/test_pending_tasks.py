"""A task that opens while its instance cannot be worked is announced when the instance can be worked again, once.

The real path today: an incident in one branch of a parallel split while the other branch opens a user task. The
task opens suspended (nobody may work it); retrying the instance opens it, and only then is its role told. Suspending
and resuming afterwards, any number of times, tells nobody again; nor does resuming an instance whose tasks were
announced when they opened.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from notifications.models import Notice, OutboxEntry, PendingTask
from tests.api.diagrams import document
from tests.api.support import Http

NODES = ("start", "fork", "review", "divide", "join", "end")
# A review for a practitioner beside a script that fails while divisor is 0.
REVIEW_BESIDE_DIVIDE = document("review_beside_divide", (
    '<bpmn:startEvent id="start"/>\n'
    '<bpmn:parallelGateway id="fork"/>\n'
    '<bpmn:userTask id="review" name="Review the figures"/>\n'
    '<bpmn:scriptTask id="divide" name="Divide" scriptFormat="python">'
    "<bpmn:script>share = 100 / divisor</bpmn:script></bpmn:scriptTask>\n"
    '<bpmn:parallelGateway id="join"/>\n'
    '<bpmn:endEvent id="end"/>\n'
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>\n'
    '<bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="review"/>\n'
    '<bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="divide"/>\n'
    '<bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="join"/>\n'
    '<bpmn:sequenceFlow id="f5" sourceRef="divide" targetRef="join"/>\n'
    '<bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="end"/>\n'
), lanes=('<bpmn:laneSet id="lanes"><bpmn:lane id="lane_p" name="Practitioner">'
          + "".join(f"<bpmn:flowNodeRef>{node}</bpmn:flowNodeRef>" for node in NODES)
          + "</bpmn:lane></bpmn:laneSet>\n"))


def _rows(app: Any, model: Any, **where: Any) -> list[Any]:
    with app.extensions["changeflow"].database.snapshot() as session:
        statement = select(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return list(session.scalars(statement))


def _announcements(app: Any, task_id: str) -> list[tuple[str, str, str | None]]:
    """The outbox rows telling someone that the task opened: (kind, actor, the task's element)."""
    return [(row.kind, row.actor, row.payload.get("element_id")) for row in _rows(app, OutboxEntry, task_id=task_id)
            if row.kind in ("task.ready", "task.assigned")]


def _start_in_error(http: Http) -> dict[str, Any]:
    deployed = http.post("/api/process-models/review_beside_divide/versions", "change-owner",
                         {"bpmn": REVIEW_BESIDE_DIVIDE, "practice": "change"})
    assert deployed.status_code == 201, deployed.get_json()
    started = http.post("/api/instances", "change-practitioner",
                        {"process": "review_beside_divide", "data": {"divisor": 0}})
    assert started.status_code == 201, started.get_json()
    return started.get_json()


def _lifecycle(http: Http, instance_id: int, action: str, **body: Any) -> dict[str, Any]:
    response = http.post(f"/api/instances/{instance_id}/{action}", "change-manager", body or None)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_task_opened_during_an_incident_is_announced_once_when_the_instance_can_be_worked(app, http, notifier):
    started = _start_in_error(http)
    assert started["status"] == "error"
    [review] = started["tasks"]
    assert (review["element_id"], review["state"]) == ("review", "suspended")
    assert _announcements(app, review["id"]) == []  # nobody may work it yet: nobody is told
    assert [row.task_id for row in _rows(app, PendingTask)] == [review["id"]]

    # A retry that stops again changes nothing: the task is still nobody's work.
    again = _lifecycle(http, started["id"], "retry", data={"divisor": 0})
    assert again["status"] == "error"
    assert _announcements(app, review["id"]) == []
    assert [row.task_id for row in _rows(app, PendingTask)] == [review["id"]]

    retried = _lifecycle(http, started["id"], "retry", data={"divisor": 4})
    assert retried["status"] == "running"
    assert [(task["id"], task["state"]) for task in retried["tasks"]] == [(review["id"], "open")]
    # Written in the retry's own transaction, by whoever made it workable.
    assert _announcements(app, review["id"]) == [("task.ready", "change-manager", "review")]
    assert _rows(app, PendingTask) == []

    # Suspend and resume, twice: the task's opening was told once and is not told again.
    for _cycle in range(2):
        assert _lifecycle(http, started["id"], "suspend")["status"] == "suspended"
        assert _lifecycle(http, started["id"], "resume")["status"] == "running"
    assert _announcements(app, review["id"]) == [("task.ready", "change-manager", "review")]

    notifier.run_pass()
    notices = sorted((notice.username, notice.kind) for notice in _rows(app, Notice) if notice.kind.startswith("task."))
    assert notices == [("change-practitioner", "task.ready"), ("change-practitioner-2", "task.ready")]  # once each
    listed = http.get("/api/notifications", "change-practitioner").get_json()
    assert [(item["kind"], item["link"]) for item in listed if item["kind"].startswith("task.")] == [
        ("task.ready", f"/tasks/{review['id']}")]


def test_resuming_does_not_announce_tasks_told_when_they_opened(app, http, clock, shipped, notifier):
    change = http.start_change(clock)
    [task] = change["tasks"]
    assert _announcements(app, task["id"]) == [("task.ready", "change-practitioner", "assess_change")]
    for _cycle in range(2):
        _lifecycle(http, change["id"], "suspend")
        _lifecycle(http, change["id"], "resume")
    assert _announcements(app, task["id"]) == [("task.ready", "change-practitioner", "assess_change")]
    assert _rows(app, PendingTask) == []


def test_cancelling_forgets_what_was_never_announced(app, http, notifier):
    started = _start_in_error(http)
    [review] = started["tasks"]
    assert _lifecycle(http, started["id"], "cancel")["status"] == "cancelled"
    assert _rows(app, PendingTask) == []
    assert _announcements(app, review["id"]) == []


def test_resuming_announces_a_task_noted_while_the_instance_was_suspended(app, http, clock, shipped, notifier):
    """No command of today opens a task in a suspended instance (its tasks cannot be completed, its timers and
    messages wait); the note the outbox listener would write for one is planted here, as it would be written."""
    change = http.start_change(clock)
    [task] = change["tasks"]
    _lifecycle(http, change["id"], "suspend")
    with app.extensions["changeflow"].database.transaction() as session:
        for row in session.scalars(select(OutboxEntry).where(OutboxEntry.task_id == task["id"])):
            session.delete(row)  # as if it had opened while suspended: never announced
        session.add(PendingTask(task_id=task["id"], instance_id=change["id"], created_at=clock.now()))

    resumed = _lifecycle(http, change["id"], "resume")
    assert [(item["id"], item["state"]) for item in resumed["tasks"]] == [(task["id"], "open")]
    assert _announcements(app, task["id"]) == [("task.ready", "change-manager", "assess_change")]
    assert _rows(app, PendingTask) == []
    _lifecycle(http, change["id"], "suspend")
    _lifecycle(http, change["id"], "resume")
    assert _announcements(app, task["id"]) == [("task.ready", "change-manager", "assess_change")]
