"""The CAB vote: a parallel multi-instance user task, one instance per voter, votes gathered in a list.

This is the pattern docs/bpmn-support.md documents: each instance keeps its own data, the outputs are
gathered into a collection, and one person completes at most one instance.
"""

from __future__ import annotations

from typing import Any

from tests.api.support import Http, assert_problem, rows
from tests.engine.builder import diagram, end_event, flows, start_event

VOTE_FORM = {"title": "Vote", "fields": [
    {"name": "decision", "type": "enum", "choices": ["approve", "deny"], "required": True},
    {"name": "comment", "type": "string"},
]}


def vote_diagram(output_ref: str = "", output_item: str = "") -> str:
    """Start -> 'Vote' for each member of ``voters`` -> a gateway that approves only if nobody denied."""
    vote = ('<bpmn:userTask id="vote" name="Vote"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="formKey" value="cab/vote"/></spiffworkflow:properties>'
            '</bpmn:extensionElements><bpmn:multiInstanceLoopCharacteristics>'
            '<bpmn:loopDataInputRef>voters</bpmn:loopDataInputRef>' + output_ref
            + '<bpmn:inputDataItem id="voter" name="voter"/>' + output_item
            + '</bpmn:multiInstanceLoopCharacteristics>'
            '</bpmn:userTask>\n')
    decide = ('<bpmn:scriptTask id="count" name="Count" scriptFormat="python"><bpmn:script>'
              'approved = all(v["decision"] == "approve" for v in votes)</bpmn:script></bpmn:scriptTask>\n')
    return diagram(start_event() + vote + decide + end_event()
                   + flows("start", "vote", "count", "end"), {"Practitioner": ["vote"]})


# The documented pattern names the collection; a diagram that does not gets vote_results (tested below).
WITH_OUTPUT = vote_diagram('<bpmn:loopDataOutputRef>votes</bpmn:loopDataOutputRef>',
                           '<bpmn:outputDataItem id="ballot" name="ballot"/>')


def deploy_and_start(http: Http, bpmn: str) -> dict[str, Any]:
    answer = http.post("/api/process-models/cab_vote/versions", "change-owner",
                       {"bpmn": bpmn, "practice": "change", "forms": {"cab/vote": VOTE_FORM}})
    assert answer.status_code == 201, answer.get_json()
    started = http.post("/api/instances", "change-manager", {"process": "cab_vote", "data": {"voters": ["a", "b"]}})
    assert started.status_code == 201, started.get_json()
    return started.get_json()


def test_deny_then_approve_is_gathered_and_not_overwritten(http, app):
    instance = deploy_and_start(http, WITH_OUTPUT)
    first, second = instance["tasks"]
    assert first["element_id"] == second["element_id"] == "vote" and first["id"] != second["id"]
    assert [first["title"], second["title"]] == ["Vote (a)", "Vote (b)"]  # each instance shows its own item

    http.complete(first["id"], "change-practitioner", {"decision": "deny", "comment": "no rollback plan"})
    done = http.complete(second["id"], "change-practitioner-2", {"decision": "approve"})

    assert done["instance"]["status"] == "completed"
    data = http.get(f"/api/instances/{instance['id']}", "change-manager").get_json()["data"]
    assert data["votes"] == [
        {"decision": "deny", "comment": "no rollback plan", "completed_by": "change-practitioner"},
        {"decision": "approve", "comment": None, "completed_by": "change-practitioner-2"},
    ]
    assert data["approved"] is False
    completed = sorted((row["completed_by"], row["status"]) for row in rows(app, "human_task")["human_task"])
    assert completed == [("change-practitioner", "completed"), ("change-practitioner-2", "completed")]


def test_one_person_completes_at_most_one_instance(http, app):
    instance = deploy_and_start(http, WITH_OUTPUT)
    first, second = instance["tasks"]
    http.complete(first["id"], "change-practitioner", {"decision": "approve"})

    again = http.post(f"/api/tasks/{second['id']}/complete", "change-practitioner", {"data": {"decision": "approve"}})
    claim = http.post(f"/api/tasks/{second['id']}/claim", "change-practitioner")

    body = assert_problem(again, 403, "separation-of-duties")
    assert "already completed an instance of 'Vote'" in body["detail"]
    assert_problem(claim, 403, "separation-of-duties")
    listed = http.get("/api/tasks", "change-practitioner").get_json()
    assert [task["id"] for task in listed] == []
    assert [task["id"] for task in http.get("/api/tasks", "change-practitioner-2").get_json()] == [second["id"]]
    open_rows = [row for row in rows(app, "human_task")["human_task"] if row["status"] == "open"]
    assert [row["id"] for row in open_rows] == [second["id"]]


def test_without_an_output_collection_the_votes_are_gathered_under_the_task_id(http):
    instance = deploy_and_start(http, vote_diagram().replace("in votes", "in vote_results"))
    first, second = instance["tasks"]

    http.complete(first["id"], "change-practitioner", {"decision": "deny"})
    http.complete(second["id"], "change-practitioner-2", {"decision": "approve"})

    data = http.get(f"/api/instances/{instance['id']}", "change-manager").get_json()["data"]
    assert [vote["decision"] for vote in data["vote_results"]] == ["deny", "approve"]
    assert data["approved"] is False and "decision" not in data  # no instance overwrote the process data


def test_a_missing_input_collection_is_an_incident_on_the_task_not_a_500(http):
    answer = http.post("/api/process-models/cab_vote/versions", "change-owner",
                       {"bpmn": WITH_OUTPUT, "practice": "change", "forms": {"cab/vote": VOTE_FORM}})
    assert answer.status_code == 201

    started = http.post("/api/instances", "change-manager", {"process": "cab_vote", "data": {}})

    assert started.status_code == 201
    body = started.get_json()
    assert body["status"] == "error" and body["incident"]["element_id"] == "vote"
    assert "input collection 'voters'" in body["incident"]["message"]
    retried = http.post(f"/api/instances/{body['id']}/retry", "change-manager", {"data": {"voters": ["a"]}})
    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json()["status"] == "running" and len(retried.get_json()["tasks"]) == 1


