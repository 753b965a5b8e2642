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
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS as LIBRARY_MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_FORMAT
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import ParallelMultiInstanceTask, SequentialMultiInstanceTask

from engine.errors import EngineError
from engine.parsing import BoundedParallelMultiInstanceTask, BoundedSequentialMultiInstanceTask
from engine.specs import ProcessBundle
from engine.timers import CLOCKED

# A saved state's format: the library's version, plus ours ("ref.N": the spec stored by reference). It is
# stored in every state and in ``process_instance.serializer_version``; an older state is migrated on load.
REFERENCE_FORMAT = "ref.1"
STATE_FORMAT = f"{SPIFF_FORMAT}+{REFERENCE_FORMAT}"


class StateUnreadable(EngineError):
    """The instance's saved state is in a format this engine cannot read."""


class _WorkflowByReference(BpmnWorkflowConverter):
    """Serializes a workflow without its spec; restores it around the version's cached spec."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dict(dct)

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
    # Specs are stored by reference, but a migration lends them to the library's converters.
    config[BoundedParallelMultiInstanceTask] = config[ParallelMultiInstanceTask]
    config[BoundedSequentialMultiInstanceTask] = config[SequentialMultiInstanceTask]
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
        return str(self._serializer.serialize_json(workflow))

    def loads(self, state: str, bundle: ProcessBundle, script_engine: Any) -> BpmnWorkflow:
        """Restore a saved state, migrating it first when an older library version wrote it."""
        document = json.loads(state)
        found = document.pop(BpmnWorkflowSerializer.VERSION_KEY, None)
        library_format, _, reference_format = str(found).partition("+")
        if reference_format != REFERENCE_FORMAT or (library_format != SPIFF_FORMAT
                                                    and library_format not in LIBRARY_MIGRATIONS):
            raise StateUnreadable(f"The saved state has format {found!r}; this engine reads {STATE_FORMAT!r} "
                                  f"and migrates library formats {', '.join(sorted(LIBRARY_MIGRATIONS))}.",
                                  format=found)
        if library_format != SPIFF_FORMAT:
            self._migrate(document, library_format, bundle)
        return self._serializer.from_dict(document, bundle=bundle, script_engine=script_engine)

    def _migrate(self, document: dict[str, Any], library_format: str, bundle: ProcessBundle) -> None:
        """Run the library's own migrations from ``library_format`` up to the current format.

        They read (and may rewrite) the specs, which a by-reference state lacks: lend them the version's
        specs, serialized as the library would have embedded them, and take them back afterwards.
        """
        specs = {name: self._serializer.to_dict(spec) for name, spec in bundle.subprocess_specs.items()}
        document["spec"] = self._serializer.to_dict(bundle.spec)
        document["subprocess_specs"] = specs
        names = {}
        for key, subprocess in document.get("subprocesses", {}).items():
            names[key] = subprocess.get("spec")
            subprocess["spec"] = specs.get(names[key], {"task_specs": {}})
        try:
            LIBRARY_MIGRATIONS[library_format](document)
        except Exception as error:  # the library's migrations raise whatever their data makes them raise
            raise StateUnreadable(f"The saved state (library format {library_format}) could not be migrated to "
                                  f"{SPIFF_FORMAT}: {type(error).__name__}: {error}",
                                  format=library_format) from error
        for key, subprocess in document.get("subprocesses", {}).items():
            subprocess["spec"] = names.get(key)
        for lent in ("spec", "subprocess_specs", "VERSION"):
            document.pop(lent, None)
