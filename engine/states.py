"""The states an instance, a human task and an audit event can be in. Values are what the API shows."""

from __future__ import annotations

from enum import StrEnum


class InstanceStatus(StrEnum):
    """Lifecycle of a process instance (see docs/states.md for the diagram)."""

    RUNNING = "running"  # at least one human task is open
    WAITING = "waiting"  # no human task open; waiting for a timer or a message
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"  # an incident stops it until someone retries

    @property
    def is_final(self) -> bool:
        return self in (InstanceStatus.COMPLETED, InstanceStatus.CANCELLED)

    @property
    def is_active(self) -> bool:
        """Active instances move on by themselves: timers fire and messages are delivered."""
        return self in (InstanceStatus.RUNNING, InstanceStatus.WAITING)


class TaskStatus(StrEnum):
    """Lifecycle of a human task row."""

    OPEN = "open"
    SUSPENDED = "suspended"  # its instance is suspended or has an incident
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # withdrawn by the process (interrupting timer, cancelled instance)

    @property
    def is_final(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.CANCELLED)


class EventType(StrEnum):
    """Kinds of audit events."""

    DEPLOYED = "deployed"
    STARTED = "started"
    CLAIMED = "claimed"
    UNCLAIMED = "unclaimed"
    ASSIGNED = "assigned"
    COMPLETED = "completed"
    TIMER_FIRED = "timer_fired"
    MESSAGE_RECEIVED = "message_received"
    ERROR = "error"
    RETRIED = "retried"
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    CANCELLED = "cancelled"
    INSTANCE_COMPLETED = "instance_completed"
    RELEASE_OUTCOME = "release_outcome"
    NOTE = "note"  # a work note: a person's comment kept in the trail
