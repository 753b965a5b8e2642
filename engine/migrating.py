"""Instance migration as commands: a dry run per batch, and one transaction per instance moved.

``plan_migration`` and ``migrate_instances`` go through the instances of version N in batches (by id), each
batch or instance in its own ``Engine.run``: a long migration never holds one long transaction, and an
instance that cannot move (or changed meanwhile) is reported and skipped, not a reason to stop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.context import Authorizer, CommandContext, allow_all
from engine.errors import Conflict, EngineError, InvalidInput, NotFound
from engine.execution import Execution
from engine.migration import ElementMove, MovePlan, apply_move, plan_move
from engine.specs import ProcessBundle
from engine.states import EventType, InstanceStatus
from engine.store import LIVE_TASK, Store
from engine.views import ProcessFacts

MOVABLE = (InstanceStatus.RUNNING, InstanceStatus.WAITING, InstanceStatus.SUSPENDED)
LISTED = (*MOVABLE, InstanceStatus.ERROR)  # an instance stopped by an incident is listed, as not movable
BATCH_SIZE = 50


@dataclass(frozen=True)
class InstanceMovePlan:
    """Whether one instance can move, where each element it is at goes, and what stops it if it cannot."""

    instance_id: int
    business_key: str
    status: str
    can_move: bool
    elements: list[dict[str, Any]]
    problems: list[str]


@dataclass(frozen=True)
class MigrationReport:
    """What a migration (or its dry run) found or did, per instance."""

    key: str
    from_version: int
    to_version: int
    dry_run: bool
    instances: list[InstanceMovePlan] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # business keys
    skipped: list[dict[str, str]] = field(default_factory=list)  # {business_key, reason}


@dataclass(frozen=True)
class _Versions:
    model_key: str
    practice: str
    from_id: int
    to_id: int


def _versions(store: Store, key: str, from_version: int, to_version: int, authorize: Authorizer) -> _Versions:
    model = store.get_model(key)
    if model is None:
        raise NotFound(f"There is no process '{key}'.")
    authorize(ProcessFacts(model.key, model.practice))
    source = store.version_by_number(model.id, from_version)
    target = store.version_by_number(model.id, to_version)
    if source is None or target is None:
        missing = from_version if source is None else to_version
        raise NotFound(f"The process '{key}' has no version {missing}.")
    if source.id == target.id:
        raise InvalidInput("Pick two different versions.", errors={"to_version": ["Must differ from from_version."]})
    return _Versions(model.key, model.practice, source.id, target.id)


def _check_mapping(mapping: Mapping[str, str], target: ProcessBundle) -> None:
    unknown = {old: [f"'{new}' is not an element of the target version."]
               for old, new in mapping.items() if new not in _element_ids(target)}
    if unknown:
        raise InvalidInput("The mapping names elements the target version lacks.",
                           errors={f"mapping.{old}": messages for old, messages in unknown.items()})


def _element_ids(bundle: ProcessBundle) -> set[str]:
    specs = [*bundle.spec.task_specs.values()]
    for subprocess in bundle.subprocess_specs.values():
        specs += subprocess.task_specs.values()
    return {spec.bpmn_id for spec in specs if getattr(spec, "bpmn_id", None)}


def _plan_for(execution: Execution, target: ProcessBundle, mapping: Mapping[str, str]) -> MovePlan:
    status = execution.instance.status
    if status not in MOVABLE:
        plan = MovePlan()
        plan.problems.append(f"{execution.instance.business_key} is {status.value}: retry or cancel it first.")
        return plan
    return plan_move(execution.live.workflow, target, mapping)


def _plan_view(execution: Execution, plan: MovePlan) -> InstanceMovePlan:
    row = execution.instance
    return InstanceMovePlan(row.id, row.business_key, row.status.value, plan.can_move,
                            [move.to_dict() for move in plan.moves], list(plan.problems))


@dataclass(frozen=True)
class PlanMigration:
    """Dry run for one batch: which instances of version N could move to M, and why not. Changes nothing."""

    key: str
    from_version: int
    to_version: int
    mapping: Mapping[str, str] = field(default_factory=dict)
    after_id: int = 0
    limit: int = BATCH_SIZE

    def execute(self, ctx: CommandContext) -> list[InstanceMovePlan]:
        versions = _versions(ctx.store, self.key, self.from_version, self.to_version, ctx.authorize)
        target = ctx.engine.bundle(ctx.store, versions.to_id)
        _check_mapping(self.mapping, target)
        plans = []
        for row in ctx.store.instances_on_version(versions.from_id, LISTED, after_id=self.after_id, limit=self.limit):
            execution = Execution(ctx, row, ctx.engine.bundle(ctx.store, row.version_id))
            plans.append(_plan_view(execution, _plan_for(execution, target, self.mapping)))
        return plans


@dataclass(frozen=True)
class MigrateInstance:
    """Move one instance from version N to version M of its process, in one transaction, audited."""

    instance_id: int
    key: str
    from_version: int
    to_version: int
    mapping: Mapping[str, str] = field(default_factory=dict)

    def execute(self, ctx: CommandContext) -> list[ElementMove]:
        store = ctx.store
        versions = _versions(store, self.key, self.from_version, self.to_version, ctx.authorize)
        execution = Execution.lock(ctx, self.instance_id)
        row = execution.instance
        if row.process_key != versions.model_key or row.version_id != versions.from_id:
            raise Conflict(f"{row.business_key} is not on version {self.from_version} of '{self.key}' (any more).")
        target = ctx.engine.bundle(store, versions.to_id)
        _check_mapping(self.mapping, target)
        plan = _plan_for(execution, target, self.mapping)
        if not plan.can_move:
            raise Conflict(f"{row.business_key} cannot move to version {self.to_version}: " + " ".join(plan.problems),
                           problems=plan.problems)
        apply_move(execution.live.workflow, target, plan)
        row.version_id = versions.to_id
        execution.bundle = target
        execution.live.bundle = target
        targets = {move.element_id: move.target_id for move in plan.moves}
        for task in store.live_tasks(row.id):
            meta = target.tasks.get(targets.get(task.element_id) or task.element_id)
            if task.status in LIVE_TASK and meta is not None:  # what people see of the task follows the version
                task.element_id, task.title, task.role = meta.element_id, meta.title, meta.role or task.role
                task.form_key, task.instructions, task.separation = meta.form_key, meta.instructions, \
                    list(meta.separation)
        for external in store.unfinished_external_tasks(row.id):
            meta = target.external_tasks.get(targets.get(external.element_id) or external.element_id)
            if meta is not None:
                external.element_id, external.title, external.topic = meta.element_id, meta.title, meta.topic or ""
        execution.save()
        execution.event(EventType.VERSION_CHANGED, from_version=self.from_version, to_version=self.to_version,
                        mapping=dict(self.mapping), moves=[move.to_dict() for move in plan.moves])
        return plan.moves


Runner = Callable[..., Any]


def plan_migration(engine: Any, key: str, from_version: int, to_version: int, mapping: Mapping[str, str], *,
                   actor: str, authorize: Authorizer = allow_all, batch_size: int = BATCH_SIZE) -> MigrationReport:
    """The dry run over every instance of version ``from_version``, batch by batch."""
    plans: list[InstanceMovePlan] = []
    after = 0
    while True:
        batch = engine.run(PlanMigration(key, from_version, to_version, dict(mapping), after, batch_size),
                           actor=actor, authorize=authorize)
        plans += batch
        if len(batch) < batch_size:
            break
        after = batch[-1].instance_id
    return MigrationReport(key, from_version, to_version, True, plans)


def migrate_instances(engine: Any, key: str, from_version: int, to_version: int, mapping: Mapping[str, str], *,
                      actor: str, authorize: Authorizer = allow_all, instance_ids: Sequence[int] | None = None,
                      batch_size: int = BATCH_SIZE) -> MigrationReport:
    """Move the instances (all those of ``from_version``, or the ones named) one transaction each."""
    dry = plan_migration(engine, key, from_version, to_version, mapping, actor=actor, authorize=authorize,
                         batch_size=batch_size)
    wanted = set(instance_ids) if instance_ids is not None else None
    unknown = sorted(wanted - {plan.instance_id for plan in dry.instances}) if wanted is not None else []
    if unknown:
        raise InvalidInput(f"Some instances are not running on version {from_version} of '{key}'.",
                           errors={"instance_ids": [f"{instance_id} is not." for instance_id in unknown]})
    moved, skipped = [], []
    for plan in dry.instances:
        if wanted is not None and plan.instance_id not in wanted:
            continue
        if not plan.can_move:
            skipped.append({"business_key": plan.business_key, "reason": " ".join(plan.problems)})
            continue
        try:
            engine.run(MigrateInstance(plan.instance_id, key, from_version, to_version, dict(mapping)),
                       actor=actor, authorize=authorize)
        except (Conflict, EngineError) as error:  # changed since the dry run: report it and go on
            skipped.append({"business_key": plan.business_key, "reason": str(error)})
            continue
        moved.append(plan.business_key)
    return MigrationReport(key, from_version, to_version, False, dry.instances, moved, skipped)
