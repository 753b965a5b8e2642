"""What a modeler's diagram meets at deploy: its identity is its canonical XML, Camunda attributes are mapped
or warned about by element, and a diagram without layout gets one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from engine import DeployError, DeployVersion, PageRequest
from engine.canonical import canonical_xml
from engine.catalog import deploy_folder
from engine.layout import add_missing_layout
from tests.engine.builder import diagram, end_event, flows, start_event, user_task
from tests.engine.support import FORMS, open_task, start

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "bpmn").glob("*/*.bpmn"))
CAMUNDA_NS = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '


def resaved(text: str) -> str:
    """The document as another tool would save it: re-indented, attributes in reverse order, CRLF line ends,
    the namespace prefixes declared in another order, and another exporter named."""
    root = etree.fromstring(text.encode())
    for element in root.iter():
        if isinstance(element.tag, str):
            items = list(element.attrib.items())
            element.attrib.clear()
            for name, value in reversed(items):
                element.set(name, value)
    root.set("exporter", "Camunda Modeler")
    root.set("exporterVersion", "5.31.0")
    etree.indent(root, space="    ")
    xml = etree.tostring(root, encoding="unicode")
    opening = re.match(r"<[^>]+>", xml).group(0)
    declarations = re.findall(r' xmlns:\w+="[^"]*"', opening)
    rest = opening
    for declaration in declarations:
        rest = rest.replace(declaration, "")
    reordered = rest[:-1] + "".join(reversed(declarations)) + ">"
    return xml.replace(opening, reordered, 1).replace("\n", "\r\n")


@pytest.mark.parametrize("path", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_a_resaved_shipped_diagram_has_the_same_canonical_form(path):
    text = path.read_text(encoding="utf-8")
    again = resaved(text)

    assert again != text
    assert canonical_xml(again) == canonical_xml(text)


def test_resaved_shipped_diagrams_deploy_as_the_same_versions(engine, tmp_path):
    first = deploy_folder(engine, ROOT / "bpmn", actor="olivia")
    for practice in ("change", "release"):
        (tmp_path / practice).mkdir()
        for path in (ROOT / "bpmn" / practice).iterdir():
            (tmp_path / practice / path.name).write_text(resaved(path.read_text(encoding="utf-8")), encoding="utf-8")

    again = deploy_folder(engine, tmp_path, actor="oscar")

    assert [(o.key, o.version, o.created) for o in again] == [(o.key, o.version, False) for o in first]
    assert engine.list_versions("normal_change", PageRequest()).total == 1


def test_text_inside_an_element_still_counts():
    script = diagram(start_event() + '<bpmn:scriptTask id="s"><bpmn:script>x = 1\n  y = 2</bpmn:script>'
                     "</bpmn:scriptTask>" + end_event() + flows("start", "s", "end"))
    assert canonical_xml(script) != canonical_xml(script.replace("x = 1\n  y = 2", "x = 1\ny = 2"))


# -- Camunda attributes -----------------------------------------------------------------------------------

def camunda_task(**attributes: str) -> str:
    extra = " ".join(f'camunda:{name}="{value}"' for name, value in attributes.items())
    body = (start_event() + f'<bpmn:userTask id="review" name="Review" {extra}/>\n' + end_event()
            + flows("start", "review", "end"))
    return diagram(body, {"Practitioner": ["start", "review", "end"]}).replace(
        "<bpmn:definitions ", "<bpmn:definitions " + CAMUNDA_NS, 1)


def _warnings(result, element_id="review"):
    return [w["message"] for w in result.warnings if w["element_id"] == element_id]


def test_a_plain_camunda_form_key_is_the_tasks_form(engine):
    result = engine.run(DeployVersion("proc", "change", camunda_task(formKey="test/decide"), forms=FORMS),
                        actor="olivia")

    assert result.version.forms == ["test/decide"]
    assert _warnings(result) == ["camunda:formKey 'test/decide' is used as the task's form (Changeflow's property "
                                 "formKey)."]
    instance = start(engine)
    assert open_task(engine, instance.id, "review").form_key == "test/decide"


def test_a_camunda_form_reference_is_a_warning_naming_the_element(engine):
    result = engine.run(DeployVersion("proc", "change", camunda_task(formKey="embedded:app:forms/review.html"),
                                      forms=FORMS), actor="olivia")

    [message] = _warnings(result)
    assert message.startswith("camunda:formKey 'embedded:app:forms/review.html' is a Camunda form reference")
    assert open_task(engine, start(engine).id, "review").form_key is None


def test_a_camunda_form_key_naming_no_form_stops_the_deploy(engine):
    with pytest.raises(DeployError) as caught:
        engine.run(DeployVersion("proc", "change", camunda_task(formKey="no/such"), forms=FORMS), actor="olivia")
    assert [(p.element_id, p.message) for p in caught.value.problems] == [
        ("review", "The form 'no/such' does not exist.")]


@pytest.mark.parametrize("attribute, value, start_of_message", [
    ("candidateUsers", "alice,bob", "camunda:candidateUsers 'alice,bob' is not used"),
    ("assignee", "${initiator}", "camunda:assignee '${initiator}' is not used: set the property 'assignTo'"),
    ("dueDate", "2026-12-01T09:00:00", "camunda:dueDate '2026-12-01T09:00:00' is not used: set the property 'dueIn'"),
    ("candidateGroups", "manager", "camunda:candidateGroups 'manager' is not used: the task is in the lane"),
])
def test_camunda_attributes_changeflow_does_not_read_are_warnings(engine, attribute, value, start_of_message):
    result = engine.run(DeployVersion("proc", "change", camunda_task(**{attribute: value}), forms=FORMS),
                        actor="olivia")

    [message] = _warnings(result)
    assert message.startswith(start_of_message)


# -- layout -----------------------------------------------------------------------------------------------

def without_layout(text: str) -> str:
    return re.sub(r"<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", "", text, flags=re.S)


def shapes(xml: str) -> set[str]:
    return set(re.findall(r'<bpmndi:BPMN(?:Shape|Edge) id="[^"]*" bpmnElement="([^"]*)"', xml))


def test_a_diagram_without_layout_is_stored_with_one_and_a_warning(engine):
    bare = diagram(start_event() + user_task("review", form="test/decide") + end_event()
                   + flows("start", "review", "end"), {"Practitioner": ["start", "review", "end"]})

    result = engine.run(DeployVersion("proc", "change", bare, forms=FORMS), actor="olivia")

    stored = engine.version_view("proc", 1).bpmn
    assert shapes(stored) == {"pool", "lane_0", "start", "review", "end", "flow_start_review", "flow_review_end"}
    [warning] = [w for w in result.warnings if w["element_id"] is None]
    assert warning["message"].startswith("The diagram had no layout for 7 element(s)")
    again = engine.run(DeployVersion("proc", "change", bare, forms=FORMS), actor="olivia")
    assert not again.created  # the same layout is drawn each time


def test_an_element_added_in_a_text_editor_gets_a_shape_and_the_rest_stays():
    text = (ROOT / "bpmn" / "change" / "standard_change.bpmn").read_text(encoding="utf-8")
    before = shapes(text)
    extra = '<bpmn:task id="typed_in" name="Typed in"/>'
    edited = text.replace("</bpmn:process>", extra + "</bpmn:process>", 1)

    laid_out = add_missing_layout(edited)

    assert laid_out.drawn == ["typed_in"]
    assert shapes(laid_out.xml) == before | {"typed_in"}
    for element_id in before:  # existing shapes keep their coordinates
        pattern = rf'bpmnElement="{element_id}"[^>]*>\s*<dc:Bounds[^>]*>'
        assert re.search(pattern, text) is None or re.search(pattern, text).group(0) in laid_out.xml


@pytest.mark.parametrize("path", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_a_shipped_diagram_stripped_of_its_layout_gets_every_shape_back(path):
    text = path.read_text(encoding="utf-8")

    laid_out = add_missing_layout(without_layout(text))

    assert shapes(laid_out.xml) == shapes(text)
    assert add_missing_layout(text).drawn == []


def test_a_camunda_form_key_on_the_start_event_is_the_start_form(engine):
    bpmn = camunda_task().replace('<bpmn:startEvent id="start"', '<bpmn:startEvent id="start" '
                                  'camunda:formKey="test/count"', 1)

    result = engine.run(DeployVersion("proc", "change", bpmn, forms=FORMS), actor="olivia")

    assert result.version.start_form == "test/count"
    assert _warnings(result, "start") == ["camunda:formKey 'test/count' is used as the task's form (Changeflow's "
                                          "property formKey)."]


def test_a_subprocess_without_layout_is_drawn_collapsed_with_its_contents_on_a_plane_of_its_own():
    inner = start_event("inner_start") + user_task("inner_task") + end_event("inner_end") + flows(
        "inner_start", "inner_task", "inner_end")
    bare = diagram(start_event() + f'<bpmn:subProcess id="sub">{inner}</bpmn:subProcess>' + end_event()
                   + flows("start", "sub", "end"))

    laid_out = add_missing_layout(bare)

    planes = dict(re.findall(r'<bpmndi:BPMNPlane id="[^"]*" bpmnElement="([^"]*)">(.*?)</bpmndi:BPMNPlane>',
                             laid_out.xml, re.S))
    assert set(planes) == {"collaboration", "sub"}
    assert 'bpmnElement="sub" isExpanded="false"' in planes["collaboration"]
    assert shapes(planes["sub"]) == {"inner_start", "inner_task", "inner_end", "flow_inner_start_inner_task",
                                     "flow_inner_task_inner_end"}
