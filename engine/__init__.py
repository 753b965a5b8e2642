"""Changeflow's process engine: BPMN on SpiffWorkflow, persisted with SQLAlchemy. It knows nothing of Flask."""

from __future__ import annotations

from engine.clock import Clock, FakeClock, SystemClock
from engine.commands import (
    AddWorkNote,
    AssignTask,
    CancelInstance,
    ClaimTask,
    CompleteTask,
    CorrelateMessage,
    DeployVersion,
    FireTimers,
    ResumeInstance,
    RetryInstance,
    StartInstance,
    SuspendInstance,
    UnclaimTask,
    ValidateDeployment,
)
from engine.context import Authorizer, CommandContext, allow_all
from engine.database import DEFAULT_DATABASE_URL, Database
from engine.errors import Conflict, DeployError, EngineError, FormInvalid, InvalidInput, NotFound, Problem
from engine.executor import SYSTEM_ACTOR, Engine
from engine.services import ServiceContext, ServiceError, ServiceRegistry
from engine.states import EventType, InstanceStatus, TaskStatus
from engine.store import InstanceQuery, Listing, PageRequest, TaskQuery

__all__ = [
    "DEFAULT_DATABASE_URL", "SYSTEM_ACTOR",
    "AddWorkNote", "AssignTask", "Authorizer", "CancelInstance", "ClaimTask", "Clock", "CommandContext", "CompleteTask",
    "Conflict", "CorrelateMessage", "Database", "DeployError", "DeployVersion", "Engine", "EngineError",
    "EventType", "FakeClock", "FireTimers", "FormInvalid", "InstanceQuery", "InstanceStatus", "InvalidInput",
    "Listing", "NotFound", "PageRequest", "Problem", "ResumeInstance", "RetryInstance", "ServiceContext",
    "ServiceError", "ServiceRegistry", "StartInstance", "SuspendInstance", "SystemClock", "TaskQuery",
    "TaskStatus", "UnclaimTask", "ValidateDeployment", "allow_all",
]
