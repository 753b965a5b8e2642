"""The states an instance, a human task and an audit event can be in. Values are what the API shows."""

from __future__ import annotations

from enum import StrEnum


class InstanceStatus(StrEnum):
    """Lifecycle of a process instance (docs/glossary.md has the state diagram)."""

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


class ExternalTaskStatus(StrEnum):
    """Lifecycle of an external task row (a service task that workers carry out)."""

    OPEN = "open"  # in the queue: fetchable unless locked by a worker or waiting out a retry timeout
    COMPLETED = "completed"
    FAILED = "failed"  # no retries left: an incident stops the instance until someone retries it
    CANCELLED = "cancelled"  # withdrawn by the process (interrupting event, cancelled instance)


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
    EXTERNAL_TASK_LOCKED = "external_task_locked"
    EXTERNAL_TASK_COMPLETED = "external_task_completed"
    EXTERNAL_TASK_FAILED = "external_task_failed"
    MIGRATED = "migrated"  # the schema was migrated (from the command line), by whom and between which revisions
    NOTE = "note"  # a work note: a person's comment kept in the trail
    VERSION_CHANGED = "version_changed"  # an instance was migrated to another version of its process
    # Written by the CAB package (cab/) through its services and commands; the engine only stores them.
    CAB_OPENED = "cab.opened"  # a change went to the CAB: the rule, the seats and the deadline
    CAB_DECIDED = "cab.decided"  # the CAB vote closed: outcome, tally, who decided (the rule or the chair)
    CAB_RULE_SET = "cab.rule_set"  # an owner set a change model's CAB rule
    # Written by the change schedule (schedule/) on a release's trail; the engine only stores it.
    CHANGE_UNLINKED = "schedule.change_unlinked"  # a change the release carried was cancelled: it left the release
