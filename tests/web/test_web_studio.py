"""The studio's pages and JSON endpoints: who may use them, the checks pinned to elements, deploy with a comment,
forms edited in the studio and stored with the version (found by later checks, the task page and the API)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import ROOT

NORMAL = (ROOT / "bpmn" / "change" / "normal_change.bpmn").read_text()
RISK = (ROOT / "bpmn" / "change" / "change_risk.dmn").read_text()
CAB_FORM = {"title": "CAB review", "description": "The CAB's view of the change.", "fields": [
    {"name": "cab_decision", "type": "enum", "label": "CAB decision", "choices": ["go", "no_go"], "required": True},
    {"name": "cab_comment", "type": "text", "label": "Comment"}]}
# A user task in the manager lane, after the assessment: it uses a form that exists only in the studio.
CAB_TASK = """    <bpmn:userTask id="cab_review" name="CAB review">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="change/cab_review"/>
          <spiffworkflow:property name="dueIn" value="P1D"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
"""


def with_cab_review(bpmn: str = NORMAL, form_key: str = "change/cab_review") -> str:
    """normal_change with one more user task in the manager lane, between the risk and the assessment."""
    task = CAB_TASK.replace("change/cab_review", form_key)
    flow = '<bpmn:sequenceFlow id="flow_risk_to_assessment" sourceRef="assess_risk" targetRef="{}"/>'
    onward = '<bpmn:sequenceFlow id="flow_cab_to_assessment" sourceRef="cab_review" targetRef="assess_change"/>'
    bpmn = bpmn.replace(flow.format("assess_change"), f"{flow.format('cab_review')}\n    {onward}", 1)
    bpmn = bpmn.replace('<bpmn:lane id="lane_process_manager" name="Process Manager">',
                        '<bpmn:lane id="lane_process_manager" name="Process Manager">\n'
                        '        <bpmn:flowNodeRef>cab_review</bpmn:flowNodeRef>', 1)
    return bpmn.replace('    <bpmn:userTask id="assess_change"', task + '    <bpmn:userTask id="assess_change"', 1)


def post_json(client: Any, path: str, body: dict[str, Any], *, csrf: bool = True) -> Any:
    headers = {"X-CSRF-Token": client.csrf()} if csrf else {}
    response = client.client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)
    response.get_data()
    response.close()
    return response


def versions(http: Any, key: str = "normal_change") -> list[dict[str, Any]]:
    return http.get(f"/api/process-models/{key}/versions", user="admin").json


@pytest.fixture
def owner(browser: Any, shipped: Any) -> Any:
    return browser("change-owner")


# -- who may use the studio -----------------------------------------------------------------------------


def test_the_owner_sees_the_studio_in_the_navigation_and_their_practices_models(owner):
    page = owner.get("/studio")

    assert page.status == 200
    assert '<a href="/studio" aria-current="page">Studio</a>' in page.text
    assert 'href="/studio/normal_change"' in page.text and 'href="/studio/emergency_change"' in page.text
    assert 'href="/studio/release"' not in page.text  # release belongs to another practice's owner
    # each model links to its versions (with the visual diff) and to moving its instances
    assert 'href="/studio/normal_change/versions"' in page.text
    assert 'href="/studio/normal_change/migrations"' in page.text
    modeler = owner.get("/studio/normal_change").text
    assert 'href="/studio/normal_change/versions"' in modeler and 'href="/studio/normal_change/migrations"' in modeler


@pytest.mark.parametrize("username", ["change-practitioner", "change-manager", "nobody"])
def test_people_who_own_no_practice_are_refused_the_studio(browser, shipped, username):
    client = browser(username)

    assert ">Studio</a>" not in client.get("/").text
    assert client.get("/studio").status == 403
    assert client.get("/studio/normal_change").status == 403
    assert post_json(client, "/studio/normal_change/validate", {"bpmn": NORMAL}).status_code == 403
    assert post_json(client, "/studio/normal_change/deploy", {"bpmn": NORMAL}).status_code == 403
    assert post_json(client, "/studio/normal_change/forms/preview",
                     {"key": "x", "definition": CAB_FORM}).status_code == 403


def test_another_practices_owner_is_refused_and_nothing_is_deployed(browser, shipped, http):
    client = browser("release-owner")

    assert client.get("/studio/release").status == 200
    assert client.get("/studio/normal_change").status == 403
    response = post_json(client, "/studio/normal_change/deploy", {"bpmn": with_cab_review(),
                                                                  "forms": {"change/cab_review": CAB_FORM}})
    assert response.status_code == 403
    assert [v["version"] for v in versions(http)] == [1]


def test_signed_out_visitors_are_sent_to_sign_in_and_posts_need_the_csrf_token(browser, shipped, owner, http):
    assert browser(None).get("/studio/normal_change").status == 302
    response = post_json(owner, "/studio/normal_change/deploy", {"bpmn": with_cab_review(),
                                                                 "forms": {"change/cab_review": CAB_FORM}},
                         csrf=False)
    assert response.status_code == 400
    assert [v["version"] for v in versions(http)] == [1]


def test_an_unknown_model_is_not_found(owner):
    assert owner.get("/studio/no_such_process").status == 404
    assert post_json(owner, "/studio/no_such_process/validate", {"bpmn": NORMAL}).status_code == 404


# -- the modeler page -----------------------------------------------------------------------------------


def test_the_modeler_page_hands_the_latest_version_to_the_bundled_modeler(owner):
    page = owner.get("/studio/normal_change")

    assert page.status == 200
    assert '<script src="/assets/studio-modeler.js" defer>' in page.text  # bundled: no CDN
    found = re.search(r'<script type="application/json" id="studio-config">(.*?)</script>', page.text, re.S)
    config = json.loads(found.group(1))
    assert config["key"] == "normal_change" and config["version"] == 1 and config["practice"] == "change"
    assert config["bpmn"] == NORMAL and config["decisions"] == [RISK]
    assert "change/request" in config["forms"] and "change/request" in config["formKeys"]
    assert config["laneRoles"]["process manager"] == "manager"
    registered = owner.client.application.extensions["changeflow"].engine.services.names()
    assert [s["name"] for s in config["services"]] == list(registered)  # the ITSM, schedule and CAB services
    check = next(s for s in config["services"] if s["name"] == "check_changes_authorized")
    assert check["parameters"] == [{"name": "change_keys", "required": True}]
    assert config["urls"]["validate"] == "/studio/normal_change/validate"
    assert "</script" not in found.group(1)


# -- checks pinned to elements ----------------------------------------------------------------------------


def test_validate_names_the_element_of_each_problem_and_stores_nothing(owner, http):
    response = post_json(owner, "/studio/normal_change/validate", {"bpmn": with_cab_review()})

    assert response.status_code == 422
    assert response.json["valid"] is False
    assert response.json["problems"] == [{"element_id": "cab_review", "line": response.json["problems"][0]["line"],
                                          "message": "The form 'change/cab_review' does not exist."}]
    assert [v["version"] for v in versions(http)] == [1]


def test_validate_is_the_deploy_check_and_accepts_the_studio_form(owner):
    response = post_json(owner, "/studio/normal_change/validate",
                         {"bpmn": with_cab_review(), "forms": {"change/cab_review": CAB_FORM}})

    assert response.status_code == 200, response.json
    assert response.json["valid"] is True and response.json["problems"] == []


def test_an_invalid_form_is_a_problem_not_a_crash(owner):
    response = post_json(owner, "/studio/normal_change/validate",
                         {"bpmn": with_cab_review(), "forms": {"change/cab_review": {"fields": "nope"}}})

    assert response.status_code == 422
    assert response.json["problems"][0]["message"].startswith("forms.change/cab_review:")


@pytest.mark.parametrize("body", [[], {"bpmn": 3}, {"bpmn": NORMAL, "forms": []}, {"bpmn": NORMAL, "decisions": "x"}])
def test_malformed_requests_are_refused_with_422(owner, body):
    response = owner.client.post("/studio/normal_change/validate", data=json.dumps(body),
                                 content_type="application/json", headers={"X-CSRF-Token": owner.csrf()})

    assert response.status_code == 422


# -- deploy with a comment, forms stored with the version ---------------------------------------------------


def test_deploy_records_the_owner_and_the_comment_and_the_form_runs_from_the_database(owner, http, browser):
    response = post_json(owner, "/studio/normal_change/deploy",
                         {"bpmn": with_cab_review(), "forms": {"change/cab_review": CAB_FORM},
                          "comment": "CAB review by the manager"})

    assert response.status_code == 201, response.json
    assert response.json["version"] == 2 and response.json["created"] is True
    latest = versions(http)[0]
    assert (latest["version"], latest["deployed_by"], latest["comment"]) == (2, "change-owner",
                                                                           "CAB review by the manager")
    detail = http.get("/api/process-models/normal_change/versions/2", user="admin").json
    assert "change/cab_review" in detail["forms"]

    # The form exists only in the database: a new check (no form uploaded) finds it in the latest version.
    again = post_json(owner, "/studio/normal_change/validate", {"bpmn": with_cab_review()})
    assert again.status_code == 200, again.json
    # ... and so does the API's validate and deploy.
    api = http.post("/api/process-models/validate", user="change-owner",
                    json={"key": "normal_change", "practice": "change", "bpmn": with_cab_review()})
    assert api.status_code == 200, api.json
    # Identical content: the same version, nothing new.
    same = post_json(owner, "/studio/normal_change/deploy", {"bpmn": with_cab_review(), "comment": "again"})
    assert same.status_code == 200 and same.json["version"] == 2 and same.json["created"] is False


def test_a_deploy_that_fails_its_checks_stores_nothing(owner, http):
    response = post_json(owner, "/studio/normal_change/deploy", {"bpmn": with_cab_review(), "comment": "broken"})

    assert response.status_code == 422
    assert response.json["problems"][0]["element_id"] == "cab_review"
    assert [v["version"] for v in versions(http)] == [1]


def test_a_form_changed_in_the_studio_stays_changed_in_the_next_version(owner, app_engine):
    request_form = app_engine.version_view("normal_change", 1).form_definitions["change/request"]
    changed = {**request_form, "title": "Request for change (studio)"}
    assert post_json(owner, "/studio/normal_change/deploy",
                     {"bpmn": NORMAL, "forms": {"change/request": changed}}).status_code == 201
    # The next deploy changes only the diagram: the form stays as the studio left it, not as the file has it.
    assert post_json(owner, "/studio/normal_change/deploy",
                     {"bpmn": with_cab_review(), "forms": {"change/cab_review": CAB_FORM}}).status_code == 201

    forms = app_engine.version_view("normal_change", 3).form_definitions
    assert forms["change/request"]["title"] == "Request for change (studio)"
    assert forms["change/cab_review"]["title"] == "CAB review"


def test_a_start_form_that_exists_only_in_the_database_is_served_by_the_page_and_the_api(owner, http, browser):
    form = {"title": "Quick request", "fields": [
        {"name": "title", "type": "string", "label": "What to change", "required": True}]}
    bpmn = NORMAL.replace('<spiffworkflow:property name="formKey" value="change/request"/>',
                          '<spiffworkflow:property name="formKey" value="change/quick_request"/>', 1)
    assert post_json(owner, "/studio/normal_change/deploy",
                     {"bpmn": bpmn, "forms": {"change/quick_request": form}}).status_code == 201

    api = http.get("/api/process-models/normal_change/versions/2/start-form", user="change-practitioner").json
    assert api["form"]["key"] == "change/quick_request"
    assert api["form"]["schema"]["properties"]["title"]["type"] == "string"
    page = browser("change-practitioner").get("/start/normal_change")
    assert page.status == 200 and "What to change" in page.text and "Quick request" in page.text


# -- the form editor's preview ------------------------------------------------------------------------------


def test_the_form_preview_renders_with_the_task_pages_fields(owner):
    response = post_json(owner, "/studio/normal_change/forms/preview", {"key": "change/cab_review",
                                                                        "definition": CAB_FORM})

    assert response.status_code == 200 and response.json["problems"] == []
    html = response.json["html"]
    assert '<select id="field-cab_decision" name="cab_decision" required' in html
    assert '<textarea id="field-cab_comment" name="cab_comment"' in html
    assert "CAB review" in html


def test_the_form_preview_lists_the_form_rules_problems(owner):
    bad = {"title": "Bad", "fields": [{"name": "x", "type": "enum", "label": "X"}]}
    response = post_json(owner, "/studio/normal_change/forms/preview", {"key": "change/bad", "definition": bad})

    assert response.status_code == 200 and response.json["html"] is None
    assert response.json["problems"] and "choices" in " ".join(response.json["problems"])
