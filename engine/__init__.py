"""Changeflow's process engine: BPMN on SpiffWorkflow, persisted with SQLAlchemy. It knows nothing of Flask."""

from __future__ import annotations

from engine.clock import Clock, FakeClock, SystemClock
from engine.commands import (
    AddWorkNote,
    AssignTask,
    CancelInstance,
    ClaimTask,
    CompleteExternalTask,
    CompleteTask,
    CorrelateMessage,
    DeployVersion,
    ExtendExternalTaskLock,
    FetchAndLockExternalTasks,
    FireTimers,
    RecordMigration,
    ReleaseClaims,
    ReportExternalTaskFailure,
    ResumeInstance,
    RetryInstance,
    StartInstance,
    SuspendInstance,
    UnclaimTask,
    ValidateDeployment,
)
from engine.context import SYSTEM_ACTOR, Authorizer, CommandContext, allow_all
from engine.database import Database
from engine.errors import Conflict, DeployError, EngineError, FormInvalid, InvalidInput, NotFound, Problem
from engine.executor import Engine
from engine.serialization import StateUnreadable
from engine.services import ServiceContext, ServiceError, ServiceRegistry
from engine.states import EventType, ExternalTaskStatus, InstanceStatus, TaskStatus
from engine.store import InstanceQuery, Listing, PageRequest, TaskQuery

__all__ = [
    "SYSTEM_ACTOR",
    "AddWorkNote", "AssignTask", "Authorizer", "CancelInstance", "ClaimTask", "Clock", "CommandContext",
    "CompleteExternalTask", "CompleteTask", "ExtendExternalTaskLock", "ExternalTaskStatus", "FetchAndLockExternalTasks",
    "ReportExternalTaskFailure",
    "Conflict", "CorrelateMessage", "Database", "DeployError", "DeployVersion", "Engine", "EngineError",
    "EventType", "FakeClock", "FireTimers", "FormInvalid", "InstanceQuery", "InstanceStatus", "InvalidInput",
    "Listing", "NotFound", "PageRequest", "Problem", "RecordMigration", "ReleaseClaims", "ResumeInstance",
    "RetryInstance", "ServiceContext", "ServiceError", "ServiceRegistry", "StartInstance", "StateUnreadable",
    "SuspendInstance", "SystemClock", "TaskQuery", "TaskStatus", "UnclaimTask", "ValidateDeployment", "allow_all",
]
