"""Lists restricted by practice, including the ``*`` (every practice) grant a role can hold."""

from __future__ import annotations

from engine import PageRequest, TaskQuery
from tests.engine.builder import diagram, end_event, flows, start_event, user_task
from tests.engine.support import deploy, start

REVIEW = diagram(start_event() + user_task("review", "Review") + end_event() + flows("start", "review", "end"),
                 {"Practitioner": ["review"]})


def _two_practices(engine) -> tuple[int, int]:
    deploy(engine, REVIEW, key="change_review", practice="change")
    deploy(engine, REVIEW, key="release_review", practice="release")
    return start(engine, "change_review").id, start(engine, "release_review").id


def _keys(engine, **query) -> list[str]:
    return sorted(task.business_key for task in engine.list_tasks(TaskQuery(**query), PageRequest()).items)


def test_models_are_listed_for_the_practices_asked_for(engine):
    _two_practices(engine)

    def keys(practices):
        return [model.key for model in engine.list_models(practices, PageRequest()).items]

    assert keys(None) == ["change_review", "release_review"]
    assert keys(("release",)) == ["release_review"]
    assert keys(("change", "release")) == ["change_review", "release_review"]
    assert keys(("problem",)) == []


def test_a_queue_in_every_practice_lists_the_role_s_tasks_of_each_practice(engine):
    _two_practices(engine)

    assert _keys(engine, queues=(("practitioner", "*"),)) == ["CHG-000001", "REL-000001"]
    assert _keys(engine, queues=(("practitioner", "*"), ("practitioner", "change"))) == ["CHG-000001", "REL-000001"]
    assert _keys(engine, queues=(("practitioner", "release"),)) == ["REL-000001"]
    assert _keys(engine, queues=(("manager", "*"),)) == []  # the role matters, not only the practice
    assert _keys(engine, queues=(("practitioner", "*"),), practices=("change",)) == ["CHG-000001"]


def test_seeing_every_practice_lists_every_task(engine):
    _two_practices(engine)

    assert _keys(engine, practices=("*",)) == ["CHG-000001", "REL-000001"]
    assert _keys(engine, practices=("*", "change")) == ["CHG-000001", "REL-000001"]
    assert _keys(engine, practices=("release",)) == ["REL-000001"]
    assert _keys(engine, practices=()) == []
