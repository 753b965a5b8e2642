"""The kinds of notification, as people, preferences and webhook subscriptions name them."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What happened. Values are what the API, the preferences and the webhooks' ``type`` show."""

    TASK_READY = "task.ready"  # a task opened for a role you hold
    TASK_ASSIGNED = "task.assigned"  # a task was assigned to you
    TASK_DUE_SOON = "task.due_soon"
    TASK_OVERDUE = "task.overdue"
    ESCALATION = "escalation"  # a task's escalation deadline passed: for the managers and owners of its practice
    CHANGE_AUTHORIZED = "change.authorized"
    CHANGE_REJECTED = "change.rejected"
    RELEASE_DEPLOYED = "release.deployed"
    RELEASE_ROLLED_BACK = "release.rolled_back"
    INCIDENT = "instance.incident"  # an instance stopped with an incident

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    Kind.TASK_READY: "A task is ready for a role you hold",
    Kind.TASK_ASSIGNED: "A task is assigned to you",
    Kind.TASK_DUE_SOON: "A task of yours is due soon",
    Kind.TASK_OVERDUE: "A task of yours is overdue",
    Kind.ESCALATION: "Escalation: a task in your practice is late",
    Kind.CHANGE_AUTHORIZED: "A change was authorized",
    Kind.CHANGE_REJECTED: "A change was rejected",
    Kind.RELEASE_DEPLOYED: "A release was deployed",
    Kind.RELEASE_ROLLED_BACK: "A release was rolled back",
    Kind.INCIDENT: "A record stopped with an incident",
}

ALL_KINDS = "*"  # a webhook subscription to every kind
