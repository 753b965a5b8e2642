"""Deploying: every problem is reported with its element and line; versions follow content."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine import (
    CompleteTask,
    DeployError,
    DeployVersion,
    EventType,
    InstanceStatus,
    InvalidInput,
    PageRequest,
    ValidateDeployment,
)
from engine.layout import add_missing_layout
from engine.models import Event
from tests.engine.builder import (
    diagram,
    end_event,
    flow,
    flows,
    gateway,
    script_task,
    start_event,
    timer_catch,
    user_task,
)
from tests.engine.support import FORMS, deploy, open_task, start, without_layout_note

ROOT = Path(__file__).resolve().parents[2]
ONE_TASK = diagram(start_event() + user_task("review", "Review", form="test/decide") + end_event()
                   + flows("start", "review", "end"), {"Process Manager": ["review"]})


def problems_of(engine, bpmn: str, **options) -> list[tuple[str | None, int | None, str]]:
    with pytest.raises(DeployError) as caught:
        deploy(engine, bpmn, **options)
    return [(p.element_id, p.line, p.message) for p in caught.value.problems]


def line_of(bpmn: str, fragment: str) -> int:
    """The 1-based line of the document on which ``fragment`` first appears."""
    for number, text in enumerate(bpmn.splitlines(), start=1):
        if fragment in text:
            return number
    raise AssertionError(f"{fragment!r} is not in the document")


def test_a_valid_diagram_deploys_as_version_1_and_is_audited(engine):
    result = engine.run(DeployVersion("proc", "change", ONE_TASK, forms=FORMS, comment="first"), actor="olivia")

    assert result.created
    assert (result.version.key, result.version.version, result.version.practice) == ("proc", 1, "change")
    assert result.version.forms == ["test/decide"]  # only the forms the diagram names are snapshotted
    assert result.version.deployed_by == "olivia"
    view = engine.version_view("proc", 1)
    assert view.bpmn == add_missing_layout(ONE_TASK).xml and view.comment == "first"


def test_malformed_xml_is_reported_with_its_line(engine):
    problems = problems_of(engine, ONE_TASK.replace("</bpmn:process>", "</bpmn:proc>"))

    assert len(problems) == 1
    element_id, line, message = problems[0]
    assert "not well-formed XML" in message
    assert line == line_of(ONE_TASK, "</bpmn:process>")


def test_a_document_without_an_executable_process_is_refused(engine):
    bpmn = diagram(start_event() + end_event() + flows("start", "end"), executable=False)

    [(element_id, _line, message)] = problems_of(engine, bpmn)
    assert "no executable process" in message


def test_the_bpmn_schema_is_enforced_with_element_and_line(engine):
    bpmn = diagram(start_event() + '<bpmn:userTask id="review" colour="red"/>\n' + end_event()
                   + flows("start", "review", "end"), {"Practitioner": ["review"]})

    [(element_id, line, message)] = problems_of(engine, bpmn)
    assert message.startswith("BPMN schema") and "colour" in message
    assert (element_id, line) == ("review", line_of(bpmn, 'id="review"'))


def test_a_user_task_outside_any_lane_takes_the_default_role_with_a_warning(engine):
    bpmn = diagram(start_event() + user_task("review") + user_task("approve") + end_event()
                   + flows("start", "review", "approve", "end"), {"Process Manager": ["review"]})

    result = engine.run(DeployVersion("proc", "change", bpmn, forms=FORMS), actor="olivia")

    [warning] = without_layout_note(result.warnings)
    assert warning["element_id"] == "approve" and warning["line"] == line_of(bpmn, 'id="approve"')
    assert "default role, practitioner" in warning["message"]
    instance = start(engine)
    assert open_task(engine, instance.id).role == "manager"


def test_the_default_role_is_chosen_at_deploy(engine):
    bpmn = diagram(start_event() + user_task("approve") + end_event() + flows("start", "approve", "end"))

    deploy(engine, bpmn, default_role="owner")

    assert open_task(engine, start(engine).id, "approve").role == "owner"


def test_a_default_role_that_is_no_role_is_refused(engine):
    bpmn = diagram(start_event() + user_task("approve") + end_event() + flows("start", "approve", "end"))

    [(_element, _line, message)] = problems_of(engine, bpmn, default_role="board")
    assert "'board' is not a role" in message


def test_a_user_task_in_a_lane_that_maps_to_no_role_is_refused(engine):
    bpmn = diagram(start_event() + user_task("review") + end_event() + flows("start", "review", "end"),
                   {"Steering Committee": ["review"]})

    [(element_id, line, message)] = problems_of(engine, bpmn)
    assert element_id == "review" and "'Steering Committee' maps to no role" in message
    assert line == line_of(bpmn, 'id="review"')


@pytest.mark.parametrize("lane", ["Process Owner", "owner", "PROCESS MANAGER", "manager", "Practitioner"])
def test_lane_names_map_to_roles_case_insensitively(engine, lane):
    bpmn = diagram(start_event() + user_task("review") + end_event() + flows("start", "review", "end"),
                   {lane: ["review"]})
    deploy(engine, bpmn)

    task = start(engine).tasks[0]
    assert task.role == lane.lower().replace("process ", "")


def test_a_form_key_that_names_no_form_is_refused(engine):
    bpmn = diagram(start_event() + user_task("review", form="test/missing") + end_event()
                   + flows("start", "review", "end"), {"Practitioner": ["review"]})

    [(element_id, line, message)] = problems_of(engine, bpmn)
    assert element_id == "review" and "'test/missing' does not exist" in message
    assert line == line_of(bpmn, 'id="review"')


def test_a_start_event_form_must_exist_too(engine):
    bpmn = diagram(start_event("start", '<bpmn:extensionElements><spiffworkflow:properties>'
                                        '<spiffworkflow:property name="formKey" value="test/nothing"/>'
                                        '</spiffworkflow:properties></bpmn:extensionElements>')
                   + end_event() + flows("start", "end"))

    [(element_id, _line, message)] = problems_of(engine, bpmn)
    assert element_id == "start" and "'test/nothing' does not exist" in message


def test_a_script_with_a_syntax_error_is_refused_at_its_line(engine):
    bpmn = diagram(start_event() + script_task("compute", "a = 1\nb = (a +\n") + end_event()
                   + flows("start", "compute", "end"))

    [(element_id, line, message)] = problems_of(engine, bpmn)
    assert element_id == "compute" and "SyntaxError" in message
    assert line == line_of(bpmn, "b = (a +")


@pytest.mark.parametrize("script, name", [
    ("x = 1\ny = ().__class__.__mro__", "__class__"),
    ("x = 1\ny = __import__('os')", "__import__"),
    ("x = 1\nfor c in ().__class__.__base__.__subclasses__():\n    pass", "__subclasses__"),
    ("x = 1\ny = _secret", "_secret"),
    ("x = 1\ny = x.__dict__", "__dict__"),
])
def test_dunder_and_private_names_are_refused_at_deploy_with_element_and_line(engine, script, name):
    bpmn = diagram(start_event() + script_task("sneaky", script) + end_event() + flows("start", "sneaky", "end"))

    problems = problems_of(engine, bpmn)
    assert problems, "a sandbox escape deployed"
    assert all(element_id == "sneaky" for element_id, _line, _message in problems)
    assert any(name in message for _element_id, _line, message in problems)
    assert {line for _element_id, line, _message in problems} == {line_of(bpmn, "x = 1") + 1}


def test_a_class_definition_is_refused_at_deploy(engine):
    # RestrictedPython compiles classes, but they cannot run in the sandbox.
    bpmn = diagram(start_event() + script_task("model", "x = 1\nclass Thing:\n    pass") + end_event()
                   + flows("start", "model", "end"))

    [(element_id, line, message)] = problems_of(engine, bpmn)
    assert element_id == "model" and "class definitions are not allowed" in message
    assert line == line_of(bpmn, "x = 1") + 1


@pytest.mark.parametrize("where", ["pre", "post"])
def test_pre_and_post_scripts_are_compiled_at_deploy(engine, where):
    bpmn = diagram(start_event() + user_task("review", **{where: "ok = 1\nbad = ().__class__"}) + end_event()
                   + flows("start", "review", "end"), {"Practitioner": ["review"]})

    [(element_id, _line, message)] = problems_of(engine, bpmn)
    assert element_id == "review" and f"{where}-script does not compile" in message and "__class__" in message


def test_a_condition_that_does_not_compile_is_refused_on_its_flow(engine):
    bpmn = diagram(start_event() + gateway("choose", default="otherwise") + end_event("a") + end_event("b")
                   + flow("start", "choose") + flow("choose", "a", "amount >", element_id="when_big")
                   + flow("choose", "b", element_id="otherwise"))

    [(element_id, line, message)] = problems_of(engine, bpmn)
    assert element_id == "when_big" and "condition does not compile" in message
    assert line == line_of(bpmn, 'id="when_big"')


def test_a_condition_reaching_for_dunders_is_refused(engine):
    bpmn = diagram(start_event() + gateway("choose", default="otherwise") + end_event("a") + end_event("b")
                   + flow("start", "choose") + flow("choose", "a", "().__class__ is None", element_id="sneaky")
                   + flow("choose", "b", element_id="otherwise"))

    [(element_id, _line, message)] = problems_of(engine, bpmn)
    assert element_id == "sneaky" and "__class__" in message


@pytest.mark.parametrize("kind, expression", [
    ("timeDuration", '"PT5X"'),  # a quoted literal that is not ISO 8601
    ("timeDuration", "PT5X"),  # the same, bare
    ("timeDuration", "P1D +"),  # not an expression either
    ("timeDate", "2026-13-45T09:00:00Z"),
    ("timeDate", '"next tuesday"'),
    ("timeCycle", "R3/PT1Q"),
])
def test_a_timer_expression_that_does_not_parse_is_refused(engine, kind, expression):
    bpmn = diagram(start_event() + timer_catch("wait", kind, expression) + end_event()
                   + flows("start", "wait", "end"))

    [(element_id, line, message)] = problems_of(engine, bpmn)
    assert element_id == "wait" and kind in message
    assert line == line_of(bpmn, 'id="wait"')


@pytest.mark.parametrize("kind, expression", [
    ("timeDuration", "PT5M"), ("timeDuration", '"P2D"'), ("timeDuration", "pt48h"),
    ("timeDuration", "wait_for"), ("timeDate", "2026-12-01T09:00:00Z"), ("timeDate", "planned_start"),
    ("timeCycle", "R3/PT1H"),
])
def test_valid_timer_expressions_deploy(engine, kind, expression):
    bpmn = diagram(start_event() + timer_catch("wait", kind, expression) + end_event()
                   + flows("start", "wait", "end"))

    assert deploy(engine, bpmn).version == 1


def test_every_problem_is_listed_at_once(engine):
    bpmn = diagram(
        start_event() + user_task("review", form="test/missing") + user_task("approve")
        + script_task("compute", "x = (") + timer_catch("wait", "timeDuration", '"soon"') + end_event()
        + flows("start", "review", "approve", "compute", "wait", "end"),
        {"Practitioner": ["review"], "Board": ["approve"]},
    )

    problems = problems_of(engine, bpmn)
    located = {(element_id, line) for element_id, line, _message in problems}
    assert located == {("review", line_of(bpmn, 'id="review"')), ("approve", line_of(bpmn, 'id="approve"')),
                       ("compute", line_of(bpmn, 'id="compute"')), ("wait", line_of(bpmn, 'id="wait"'))}


def test_a_refused_deploy_stores_nothing(engine):
    bpmn = diagram(start_event() + user_task("review", form="test/missing") + end_event()
                   + flows("start", "review", "end"))

    with pytest.raises(DeployError):
        deploy(engine, bpmn)
    assert engine.list_models(None, PageRequest()).total == 0


def test_validate_runs_the_same_checks_and_stores_nothing(engine):
    report = engine.run(ValidateDeployment("proc", "change", ONE_TASK, forms=FORMS), actor="olivia")

    assert report.process_id == "proc" and report.forms == ["test/decide"]
    assert report.user_tasks == [{"element_id": "review", "title": "Review", "role": "manager",
                                  "role_source": "lane", "form_key": "test/decide", "separation_of_duties": []}]
    assert without_layout_note(report.warnings) == []
    assert engine.list_models(None, PageRequest()).total == 0
    with pytest.raises(DeployError):
        engine.run(ValidateDeployment("proc", "change", ONE_TASK.replace("test/decide", "test/nope"), forms=FORMS),
                   actor="olivia")


# -- versions -------------------------------------------------------------------------------------


def test_identical_content_is_the_same_version(engine):
    first = engine.run(DeployVersion("proc", "change", ONE_TASK, forms=FORMS), actor="olivia")
    again = engine.run(DeployVersion("proc", "change", ONE_TASK, forms=FORMS), actor="oscar")

    assert first.created and not again.created
    assert again.version.version == 1 and again.version.sha256 == first.version.sha256
    assert again.version.deployed_by == "olivia"
    assert engine.list_versions("proc", PageRequest()).total == 1


def test_changed_content_is_the_next_version(engine):
    first = deploy(engine, ONE_TASK)
    second = deploy(engine, ONE_TASK.replace('name="Review"', 'name="Review it"'))
    changed_form = {**FORMS, "test/decide": {**FORMS["test/decide"], "title": "Another title"}}
    third = deploy(engine, ONE_TASK.replace('name="Review"', 'name="Review it"'), forms=changed_form)

    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert len({first.sha256, second.sha256, third.sha256}) == 3
    assert engine.model_view("proc").latest_version == 3


@pytest.mark.parametrize("key, practice, field", [("Bad Key", "change", "key"), ("proc", "Change!", "practice")])
def test_keys_and_practices_are_checked(engine, key, practice, field):
    with pytest.raises(InvalidInput) as caught:
        engine.run(DeployVersion(key, practice, ONE_TASK, forms=FORMS), actor="olivia")
    assert list(caught.value.errors) == [field]


def test_an_uploaded_form_that_is_not_a_form_is_invalid(engine):
    with pytest.raises(InvalidInput) as caught:
        engine.run(DeployVersion("proc", "change", ONE_TASK, forms={"test/decide": {"fields": "nope"}}),
                   actor="olivia")
    assert list(caught.value.errors) == ["forms.test/decide"]


def test_a_model_keeps_its_practice(engine):
    deploy(engine, ONE_TASK)

    with pytest.raises(InvalidInput):
        deploy(engine, ONE_TASK, practice="release")


def test_v1_instances_keep_running_after_v2_is_deployed(engine):
    deploy(engine, ONE_TASK)
    old = start(engine)
    v2 = diagram(start_event() + user_task("review", "Review", form="test/decide") + user_task("sign", "Sign")
                 + end_event() + flows("start", "review", "sign", "end"),
                 {"Process Manager": ["review"], "Process Owner": ["sign"]})
    deploy(engine, v2)
    new = start(engine)

    assert (old.version, new.version) == (1, 2)
    done = engine.run(CompleteTask(open_task(engine, old.id).id, {"decision": "yes"}), actor="mia")
    assert done.instance.status is InstanceStatus.COMPLETED  # v1 has no "sign" step
    moved = engine.run(CompleteTask(open_task(engine, new.id).id, {"decision": "yes"}), actor="mia")
    assert moved.instance.status is InstanceStatus.RUNNING
    assert [task.element_id for task in moved.next_tasks] == ["sign"]
    assert start(engine, version=1).version == 1  # an older version can still be started by number


def test_deploys_are_audited(engine):
    deploy(engine, ONE_TASK)

    with engine.database.snapshot() as session:
        [event] = session.scalars(select(Event).where(Event.type == EventType.DEPLOYED))
        assert (event.actor, event.instance_id, event.data["process"], event.data["version"]) == (
            "olivia", None, "proc", 1)


# -- the shipped diagrams -------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((ROOT / "bpmn" / "change").glob("*.bpmn")), ids=lambda p: p.stem)
def test_shipped_change_diagrams_deploy(engine, path):
    decisions = tuple(p.read_text() for p in sorted((ROOT / "bpmn" / "change").glob("*.dmn")))

    result = engine.run(DeployVersion(path.stem, "change", path.read_text(), decisions=decisions), actor="olivia")

    assert result.created and result.version.version == 1
    assert result.version.forms and all(key.startswith("change/") for key in result.version.forms)


def test_shipped_release_diagram_deploys(engine):
    path = ROOT / "bpmn" / "release" / "release.bpmn"

    result = engine.run(DeployVersion("release", "release", path.read_text(), decisions=()), actor="olivia")

    assert result.created and result.version.forms
    assert all(key.startswith("release/") for key in result.version.forms)
