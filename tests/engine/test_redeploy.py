"""Deploying a new version of an existing model: what it inherits from the latest version."""

from __future__ import annotations

from engine import DeployVersion
from tests.engine.builder import diagram, end_event, flows, start_event, user_task
from tests.engine.support import FORMS, deploy, start

REVIEW = diagram(start_event() + user_task("review", "Review", form="test/decide") + end_event()
                 + flows("start", "review", "end"), {"Practitioner": ["review"]})


def test_a_form_no_longer_uploaded_or_shipped_is_taken_from_the_latest_version(engine):
    first = deploy(engine, REVIEW)  # test/decide is uploaded; the engine's own forms do not have it

    second = deploy(engine, REVIEW.replace('name="Review"', 'name="Review again"'), forms={})

    assert (first.version, second.version) == (1, 2)
    assert second.forms == ["test/decide"]
    task = start(engine, version=2).tasks[0]
    detail = engine.task_detail(task.id)
    assert detail.form["title"] == FORMS["test/decide"]["title"]
    assert set(detail.form["schema"]["properties"]) == {"decision", "note"}


def test_a_new_version_can_rename_the_model_and_keeps_the_name_otherwise(engine):
    engine.run(DeployVersion("proc", "change", REVIEW, forms=FORMS, name="Peer review"), actor="olivia")
    assert engine.model_view("proc").name == "Peer review"

    engine.run(DeployVersion("proc", "change", REVIEW, forms=FORMS), actor="olivia")  # the same content, no name
    assert engine.model_view("proc").name == "Peer review"

    result = engine.run(DeployVersion("proc", "change", REVIEW, forms=FORMS, name="Four-eyes review"), actor="oscar")
    assert not result.created  # the content is unchanged, so no new version; the name still changes
    assert engine.model_view("proc").name == "Four-eyes review"
