"""Saving and loading instance state with SpiffWorkflow's serializer, minus the spec.

The library embeds the whole process spec in every serialized instance by default. Here the spec
belongs to the version (``engine.specs``), so the workflow converter writes the instance's tasks and
data only and is handed the cached spec when it loads one.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_FORMAT
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.specs import ProcessBundle
from engine.timers import CLOCKED

# The library's format, plus ours: "spec by reference". Stored with every state, so a future format
# change can tell old rows from new ones and migrate them.
STATE_FORMAT = f"{SPIFF_FORMAT}+ref.1"


class _WorkflowByReference(BpmnWorkflowConverter):
    """Serializes a workflow without its spec; restores it around the version's cached spec."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], *, bundle: ProcessBundle, script_engine: Any) -> BpmnWorkflow:
        workflow = self.target_class(bundle.spec, dict(bundle.subprocess_specs), script_engine=script_engine,
                                     deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _registry() -> Any:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _WorkflowByReference
    for clocked_timer in CLOCKED.values():
        config[clocked_timer] = TimerConditionalEventDefinitionConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # Scripts may leave dates in task data; the library knows datetime and timedelta only.
    registry.register(date, lambda value: {"value": value.isoformat()},
                      lambda value: date.fromisoformat(value["value"]))
    return registry


class StateCodec:
    """Turns a workflow into the text stored in ``process_instance.state`` and back."""

    version = STATE_FORMAT

    def __init__(self) -> None:
        self._serializer = BpmnWorkflowSerializer(_registry(), version=STATE_FORMAT)

    def dumps(self, workflow: BpmnWorkflow) -> str:
        return self._serializer.serialize_json(workflow)

    def loads(self, state: str, bundle: ProcessBundle, script_engine: Any) -> BpmnWorkflow:
        document = json.loads(state)
        version = document.pop(BpmnWorkflowSerializer.VERSION_KEY, None)
        if version != STATE_FORMAT:
            raise ValueError(f"saved state has format {version!r}; this engine reads {STATE_FORMAT!r}")
        return self._serializer.from_dict(document, bundle=bundle, script_engine=script_engine)
