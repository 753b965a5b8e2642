"""roles/policy.py on its own: who may do what to which resource, and why not.

The policy takes plain facts objects, so these tests build their own (it needs nothing from the engine).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from roles.errors import Denied, DutiesSeparated, Hidden
from roles.policy import (
    ALL_PRACTICES,
    Action,
    PracticeFacts,
    Principal,
    Role,
    UserFacts,
    authorizer,
    check,
    may,
    role_for_lane,
)


@dataclass(frozen=True)
class Process:
    process: str = "normal_change"
    practice: str = "change"
    start_role: str | None = None


@dataclass(frozen=True)
class Instance:
    practice: str = "change"


@dataclass(frozen=True)
class Task:
    role: str = "manager"
    practice: str = "change"
    title: str = "Authorize change"
    assignee: str | None = None


@dataclass(frozen=True)
class OnTask:
    task: Task = Task()
    barred_because: str | None = None

    @property
    def practice(self) -> str:
        return self.task.practice


def who(*grants: str, name: str = "pat") -> Principal:
    """A principal from 'role:practice' strings."""
    return Principal(name, frozenset(tuple(grant.split(":")) for grant in grants))


ADMIN = who("admin:*", name="root")
BARRED = "Separation of duties: pat requested CHG-000001 and may not also do 'Authorize change'."

# (action, facts, principal, expected): None when allowed, else the error class and a part of its message.
CASES = [
    # deploying: the owner of the practice, an owner of every practice, or an admin
    (Action.DEPLOY, Process(), who("owner:change"), None),
    (Action.DEPLOY, Process(), who("owner:*"), None),
    (Action.DEPLOY, Process(), ADMIN, None),
    (Action.DEPLOY, Process(), who("manager:change"), (Denied, "Only the process owner of change")),
    (Action.DEPLOY, Process(), who("owner:release"), (Denied, "Only the process owner of change")),
    # starting: the start event's lane names the role; without one, any role in the practice
    (Action.START, Process(start_role="practitioner"), who("practitioner:change"), None),
    (Action.START, Process(start_role="practitioner"), who("practitioner:*"), None),
    (Action.START, Process(start_role="practitioner"), who("manager:change"),
     (Denied, "Only a practitioner of change may start 'normal_change'")),
    (Action.START, Process(start_role="owner"), who("manager:change"), (Denied, "Only an owner of change")),
    (Action.START, Process(start_role="practitioner"), ADMIN, (Denied, "Only a practitioner")),
    (Action.START, Process(), who("manager:change"), None),
    (Action.START, Process(), who("practitioner:release"), (Denied, "needs a role in the practice change")),
    (Action.START, Process(), ADMIN, (Denied, "needs a role in the practice change")),
    # seeing an instance or a task: any role in its practice, or admin; others do not learn it exists
    (Action.VIEW_INSTANCE, Instance(), who("practitioner:change"), None),
    (Action.VIEW_INSTANCE, Instance(), ADMIN, None),
    (Action.VIEW_INSTANCE, Instance(), who("owner:release"), (Hidden, "")),
    (Action.VIEW_INSTANCE, Instance(), who(), (Hidden, "")),
    (Action.VIEW_TASK, Task(), who("owner:*"), None),
    (Action.VIEW_TASK, Task(), who("manager:release"), (Hidden, "")),
    # managing an instance: managers, owners, admins of its practice
    (Action.MANAGE_INSTANCE, Instance(), who("manager:change"), None),
    (Action.MANAGE_INSTANCE, Instance(), who("owner:change"), None),
    (Action.MANAGE_INSTANCE, Instance(), ADMIN, None),
    (Action.MANAGE_INSTANCE, Instance(), who("practitioner:change"), (Denied, "Only a manager or owner of change")),
    (Action.MANAGE_INSTANCE, Instance(), who("manager:release"), (Hidden, "")),
    # messages: anyone who may see the waiting instance
    (Action.SEND_MESSAGE, Instance(), who("practitioner:change"), None),
    (Action.SEND_MESSAGE, Instance(), who("practitioner:release"), (Hidden, "")),
    # claiming and completing: the task's role in its practice, unless a duty rule bars the user
    (Action.CLAIM, OnTask(), who("manager:change"), None),
    (Action.CLAIM, OnTask(), who("manager:*"), None),
    (Action.CLAIM, OnTask(), who("owner:change"), (Denied, "Only a manager of change may claim 'Authorize change'")),
    (Action.CLAIM, OnTask(), ADMIN, (Denied, "Only a manager of change may claim")),
    (Action.CLAIM, OnTask(), who("manager:release"), (Hidden, "")),
    (Action.CLAIM, OnTask(barred_because=BARRED), who("manager:change"), (DutiesSeparated, BARRED)),
    (Action.COMPLETE, OnTask(), who("manager:change"), None),
    (Action.COMPLETE, OnTask(Task(role="owner")), who("manager:change"), (Denied, "Only an owner of change")),
    (Action.COMPLETE, OnTask(barred_because=BARRED), who("manager:change"), (DutiesSeparated, BARRED)),
    # releasing: the holder, anyone when nobody holds it, or a manager, owner or admin
    (Action.UNCLAIM, OnTask(Task(assignee="pat")), who("manager:change"), None),
    (Action.UNCLAIM, OnTask(Task(assignee=None)), who("practitioner:change"), None),
    (Action.UNCLAIM, OnTask(Task(assignee="sam")), who("manager:change"), None),
    (Action.UNCLAIM, OnTask(Task(assignee="sam")), who("owner:change"), None),
    (Action.UNCLAIM, OnTask(Task(assignee="sam")), ADMIN, None),
    (Action.UNCLAIM, OnTask(Task(role="practitioner", assignee="sam")), who("practitioner:change"),
     (Denied, "'Authorize change' is held by sam")),
    (Action.UNCLAIM, OnTask(Task(assignee="sam")), who("practitioner:release"), (Hidden, "")),
    # assigning: managers, owners, admins; the assignee must be able to work on it (WORK_ON)
    (Action.ASSIGN, OnTask(), who("manager:change"), None),
    (Action.ASSIGN, OnTask(), who("owner:change"), None),
    (Action.ASSIGN, OnTask(), ADMIN, None),
    (Action.ASSIGN, OnTask(), who("practitioner:change"), (Denied, "Only a manager or owner of change")),
    (Action.ASSIGN, OnTask(), who("manager:release"), (Hidden, "")),
    (Action.WORK_ON, OnTask(), who("manager:change"), None),
    (Action.WORK_ON, OnTask(), who("practitioner:change"), (Denied, "pat is not a manager of change")),
    (Action.WORK_ON, OnTask(barred_because=BARRED), who("manager:change"), (DutiesSeparated, BARRED)),
    # external tasks: a worker acts with the token of a user who holds the task's role in its practice
    (Action.WORK_EXTERNAL, OnTask(), who("manager:change"), None),
    (Action.WORK_EXTERNAL, OnTask(), who("manager:*"), None),
    (Action.WORK_EXTERNAL, OnTask(), who("practitioner:change"),
     (Denied, "Only a manager of change may work on the external task 'Authorize change'")),
    (Action.WORK_EXTERNAL, OnTask(), ADMIN, (Denied, "Only a manager of change")),
    (Action.WORK_EXTERNAL, OnTask(), who("manager:release"), (Hidden, "")),
    # reading an account: your own, or any as an admin
    (Action.VIEW_USER, UserFacts("pat"), who(), None),
    (Action.VIEW_USER, UserFacts("sam"), ADMIN, None),
    (Action.VIEW_USER, UserFacts("sam"), who("owner:*"), (Denied, "Only an admin may read another user's account")),
    # administering users, tokens and roles: admins only
    (Action.ADMINISTER, None, ADMIN, None),
    (Action.ADMINISTER, None, who("owner:*"), (Denied, "Only an admin")),
    # moving instances between versions: the owner of the practice, admins
    (Action.MIGRATE, Process(), who("owner:change"), None),
    (Action.MIGRATE, Process(), who("owner:*"), None),
    (Action.MIGRATE, Process(), ADMIN, None),
    (Action.MIGRATE, Process(), who("manager:change"), (Denied, "Only the process owner of change (or an admin) "
                                                               "may migrate its instances")),
    (Action.MIGRATE, Process(), who("owner:release"), (Denied, "Only the process owner of change")),
    # the CAB (issue 14): members, managers and owners read the agenda; the chair (a manager or owner) records
    # outcomes; owners set their models' rules; a CAB member sees the practice's records
    (Action.VIEW_CAB_AGENDA, Process(), who("cab:change"), None),
    (Action.VIEW_CAB_AGENDA, Process(), who("manager:change"), None),
    (Action.VIEW_CAB_AGENDA, Process(), ADMIN, None),
    (Action.VIEW_CAB_AGENDA, Process(), who("practitioner:change"), (Denied, "Only CAB members, managers and owners")),
    (Action.VIEW_CAB_AGENDA, Process(), who("cab:release"), (Denied, "of change")),
    (Action.CHAIR_CAB, Instance(), who("manager:change"), None),
    (Action.CHAIR_CAB, Instance(), who("owner:change"), None),
    (Action.CHAIR_CAB, Instance(), who("cab:change"), (Denied, "Only the chair of the CAB of change")),
    (Action.CHAIR_CAB, Instance(), who("manager:release"), (Hidden, "")),
    (Action.SET_CAB_RULES, Process(), who("owner:change"), None),
    (Action.SET_CAB_RULES, Process(), who("manager:change"), (Denied, "Only the process owner of change")),
    (Action.VIEW_INSTANCE, Instance(), who("cab:change"), None),
    # a practice's KPIs: its owners and managers, admins; its catalog is managed by its owners and admins
    (Action.VIEW_KPIS, PracticeFacts("change"), who("owner:change"), None),
    (Action.VIEW_KPIS, PracticeFacts("change"), who("manager:*"), None),
    (Action.VIEW_KPIS, PracticeFacts("change"), ADMIN, None),
    (Action.VIEW_KPIS, PracticeFacts("change"), who("practitioner:change"),
     (Denied, "Only an owner or manager of change (or an admin) may see its KPIs.")),
    (Action.VIEW_KPIS, PracticeFacts("change"), who("owner:release"), (Hidden, "")),
    (Action.MANAGE_CATALOG, PracticeFacts("change"), who("owner:change"), None),
    (Action.MANAGE_CATALOG, PracticeFacts("change"), ADMIN, None),
    (Action.MANAGE_CATALOG, PracticeFacts("change"), who("manager:change"),
     (Denied, "Only the process owner of change")),
    (Action.MANAGE_CATALOG, PracticeFacts("change"), who("owner:release"), (Hidden, "")),
]


@pytest.mark.parametrize("action, facts, principal, expected", CASES,
                         ids=[f"{case[0].value}-{sorted(case[2].grants)}-{i}" for i, case in enumerate(CASES)])
def test_the_policy(action, facts, principal, expected):
    if expected is None:
        check(principal, action, facts)
        assert may(principal, action, facts) is True
        return
    error_class, message = expected
    with pytest.raises(error_class) as caught:
        check(principal, action, facts)
    assert type(caught.value) is error_class
    assert message in caught.value.detail
    assert may(principal, action, facts) is False


def test_every_action_has_a_rule_and_a_case():
    task_actions = {Action.VIEW_TASK, Action.CLAIM, Action.COMPLETE, Action.UNCLAIM, Action.ASSIGN, Action.WORK_ON,
                    Action.WORK_EXTERNAL}
    for action in Action:  # a missing rule would raise KeyError, which may() does not catch
        may(ADMIN, action, OnTask() if action in task_actions else UserFacts("pat") if action is Action.VIEW_USER
            else Process())
    assert {case[0] for case in CASES} == set(Action)


def test_a_refusal_for_duties_is_a_denial():
    """Callers that handle Denied (403) handle the separation of duties too."""
    assert issubclass(DutiesSeparated, Denied) and not issubclass(Hidden, Denied)


def test_the_authorizer_checks_the_facts_the_engine_passes():
    authorize = authorizer(who("manager:change"), Action.COMPLETE)

    authorize(OnTask())
    with pytest.raises(DutiesSeparated):
        authorize(OnTask(barred_because=BARRED))


# -- principals -----------------------------------------------------------------------------------------


def test_a_principal_holds_a_role_in_a_practice_or_in_every_practice():
    pat = who("manager:change", "practitioner:*")

    assert pat.holds("manager", "change") and not pat.holds("manager", "release")
    assert pat.holds("practitioner", "change") and pat.holds("practitioner", "anything")
    assert not pat.holds("owner", "change")
    assert pat.in_practice("release") and not who("manager:change").in_practice("release")
    assert not pat.is_admin and ADMIN.is_admin


def test_admin_is_not_a_role_in_any_practice():
    assert not ADMIN.in_practice("change")
    assert ADMIN.queues() == ()
    assert ADMIN.visible_practices() is None  # admins see everything


def test_visible_practices_and_queues():
    assert who("manager:release", "practitioner:change", "owner:change").visible_practices() == ("change", "release")
    assert who("manager:change", "practitioner:*").visible_practices() == (ALL_PRACTICES,)
    assert who().visible_practices() == ()
    assert who("manager:release", "practitioner:change", "admin:*").queues() == (
        ("manager", "release"), ("practitioner", "change"))


# -- lanes and roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lane, role", [
    ("Process Owner", "owner"), ("owner", "owner"), ("OWNER", "owner"),
    ("Process Manager", "manager"), ("  process   manager ", "manager"), ("Manager", "manager"),
    ("Practitioner", "practitioner"), ("practitioner", "practitioner"),
    ("Change Advisory Board", "cab"), ("CAB", "cab"), ("Admin", None), ("", None), ("Process", None),
])
def test_lane_names_map_to_roles_case_insensitively(lane, role):
    assert role_for_lane(lane) == role


def test_the_roles_describe_themselves():
    assert [role.value for role in Role] == ["owner", "manager", "practitioner", "admin", "cab"]
    assert all(role.description for role in Role)
