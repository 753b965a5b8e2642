"""Who may do what. Every endpoint asks this module; no route compares role names itself.

A principal holds roles per practice (``change``, ``release``, or ``*`` for all). Resources are described
by plain facts objects with attributes (``practice``, ``role``, ``assignee``, ...), so this module needs
nothing from the engine. Refusals say why: ``Denied`` (403) when the caller can see the resource but may
not act (``DutiesSeparated`` when a separation-of-duties rule of the diagram is the reason), ``Hidden``
(404) when the caller holds no role where the resource lives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from roles.errors import Denied, DutiesSeparated, Hidden

ALL_PRACTICES = "*"


class Role(StrEnum):
    OWNER = "owner"  # accountable: edits diagrams and policies, approves high-risk changes
    MANAGER = "manager"  # runs the process day to day, authorizes changes
    PRACTITIONER = "practitioner"  # does the work
    ADMIN = "admin"  # configures users and roles (global)
    CAB = "cab"  # a member of the practice's change advisory board: votes on high-risk changes

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Role.OWNER: "Process owner: accountable for the practice; deploys its diagrams and approves high-risk work.",
    Role.MANAGER: "Process manager: runs the practice day to day; assesses and authorizes.",
    Role.PRACTITIONER: "Practitioner: raises requests and does the work.",
    Role.CAB: "CAB member: votes on the changes that go to the change advisory board (high risk, conflicts).",
    Role.ADMIN: "Administrator: manages users, tokens and role assignments (global).",
}
PRACTICE_ROLES = (Role.OWNER, Role.MANAGER, Role.PRACTITIONER, Role.CAB)
_LANES = {
    "process owner": Role.OWNER, "owner": Role.OWNER,
    "process manager": Role.MANAGER, "manager": Role.MANAGER,
    "practitioner": Role.PRACTITIONER,
    "cab": Role.CAB, "change advisory board": Role.CAB,
}


def _a(role: str) -> str:
    """The role with its article: 'a manager', 'an owner'."""
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


def role_for_lane(lane: str) -> str | None:
    """The role a BPMN lane stands for (case-insensitive), or None when it names no role."""
    role = _LANES.get(" ".join(lane.split()).lower())
    return role.value if role is not None else None


class Action(StrEnum):
    DEPLOY = "deploy"
    START = "start"
    VIEW_INSTANCE = "view instance"
    MANAGE_INSTANCE = "manage instance"  # suspend, resume, cancel, retry
    SEND_MESSAGE = "send message"
    VIEW_TASK = "view task"
    CLAIM = "claim"
    UNCLAIM = "unclaim"
    COMPLETE = "complete"
    ASSIGN = "assign"
    WORK_EXTERNAL = "work external"  # complete, fail or extend the lock of an external task (a worker)
    WORK_ON = "work on"  # may the named user be given this task (checked for the assignee of ASSIGN)
    VIEW_USER = "view user"  # a user's account and roles
    ADMINISTER = "administer"
    MIGRATE = "migrate"  # move running instances of a process to another of its versions
    VIEW_CAB_AGENDA = "view cab agenda"  # the changes awaiting the CAB of a practice
    CHAIR_CAB = "chair cab"  # record a CAB meeting's outcome for changes of a practice
    SET_CAB_RULES = "set cab rules"  # the quorum and decision rule of a process model's CAB
    VIEW_KPIS = "view kpis"  # a practice's process KPIs (owners and managers of it, admins)
    MANAGE_CATALOG = "manage catalog"  # publish, retire and approve standard change templates (owners, admins)


# -- the facts a rule reads ------------------------------------------------------------------------------
# The engine (and the API) describe a resource with plain frozen dataclasses; these protocols say which
# attributes each rule reads, so the policy needs nothing from the engine and the type checker sees both.


class InPractice(Protocol):
    """Anything that lives in a practice: a process, an instance, a task."""

    @property
    def practice(self) -> str: ...


class StartableProcess(InPractice, Protocol):
    """A process someone wants to deploy or start; ``start_role`` is the lane of its start event."""

    @property
    def process(self) -> str: ...

    @property
    def start_role(self) -> str | None: ...


class WorkItem(InPractice, Protocol):
    """A human or external task: who may work on it, and what it is called."""

    @property
    def role(self) -> str: ...

    @property
    def title(self) -> str: ...


class HumanWorkItem(WorkItem, Protocol):
    @property
    def assignee(self) -> str | None: ...


class OnHumanTask(Protocol):
    """Acting on a human task, with the separation-of-duties verdict for the user concerned."""

    @property
    def task(self) -> HumanWorkItem: ...

    @property
    def barred_because(self) -> str | None: ...


class OnExternalTask(Protocol):
    """A worker acting on an external task."""

    @property
    def task(self) -> WorkItem: ...


class NamedUser(Protocol):
    @property
    def username(self) -> str: ...


Facts = InPractice | OnHumanTask | OnExternalTask | NamedUser | None
"""What ``check`` takes: the facts of the resource the action is on (``None`` for global actions)."""


@dataclass(frozen=True)
class UserFacts:
    """A user account someone wants to read."""

    username: str


@dataclass(frozen=True)
class PracticeFacts:
    """A practice as a whole: its KPIs, its standard change catalog."""

    practice: str


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    username: str
    grants: frozenset[tuple[str, str]]  # (role, practice)
    display_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return (Role.ADMIN.value, ALL_PRACTICES) in self.grants

    def holds(self, role: str, practice: str) -> bool:
        return (role, practice) in self.grants or (role, ALL_PRACTICES) in self.grants

    def in_practice(self, practice: str) -> bool:
        """Holds any role (but admin) in the practice."""
        return any(self.holds(role.value, practice) for role in PRACTICE_ROLES)

    def visible_practices(self) -> tuple[str, ...] | None:
        """Practices whose instances and tasks the caller may see; None means all (admins)."""
        if self.is_admin:
            return None
        practices = {practice for role, practice in self.grants if role != Role.ADMIN.value}
        return (ALL_PRACTICES,) if ALL_PRACTICES in practices else tuple(sorted(practices))

    def queues(self) -> tuple[tuple[str, str], ...]:
        """(role, practice) pairs whose tasks the caller can act on."""
        return tuple(sorted((role, practice) for role, practice in self.grants if role != Role.ADMIN.value))


def check(principal: Principal, action: Action, facts: Facts = None) -> None:
    """Raise ``Denied`` or ``Hidden`` unless ``principal`` may do ``action`` to the resource ``facts``."""
    rule = _RULES[action]
    rule(principal, facts)


def authorizer(principal: Principal, action: Action) -> Callable[[Facts], None]:
    """The callback the engine calls with a resource's facts, inside the command's transaction."""
    return lambda facts: check(principal, action, facts)


def may(principal: Principal, action: Action, facts: Facts = None) -> bool:
    """Whether ``check`` would let ``principal`` do ``action`` to ``facts``."""
    try:
        check(principal, action, facts)
    except (Denied, Hidden):
        return False
    return True


# -- the rules ------------------------------------------------------------------------------------


def _see(principal: Principal, facts: InPractice) -> None:
    if not (principal.is_admin or principal.in_practice(facts.practice)):
        raise Hidden()


def _deploy(principal: Principal, facts: InPractice) -> None:
    if not (principal.is_admin or principal.holds(Role.OWNER, facts.practice)):
        raise Denied(f"Only the process owner of {facts.practice} (or an admin) may deploy its diagrams.")


def _start(principal: Principal, facts: StartableProcess) -> None:
    needed = facts.start_role
    if needed:
        if not principal.holds(needed, facts.practice):
            raise Denied(f"Only {_a(needed)} of {facts.practice} may start '{facts.process}' "
                         "(its start event sits in that lane).")
    elif not principal.in_practice(facts.practice):
        raise Denied(f"Starting '{facts.process}' needs a role in the practice {facts.practice}.")


def _manage(principal: Principal, facts: InPractice) -> None:
    _see(principal, facts)
    if not (principal.is_admin or principal.holds(Role.MANAGER, facts.practice)
            or principal.holds(Role.OWNER, facts.practice)):
        raise Denied(f"Only a manager or owner of {facts.practice} (or an admin) may suspend, resume, "
                     "cancel or retry its instances.")


def _send_message(principal: Principal, facts: InPractice) -> None:
    _see(principal, facts)


def _act_on_task(verb: str) -> Callable[[Principal, OnHumanTask], None]:
    def rule(principal: Principal, facts: OnHumanTask) -> None:
        task = facts.task
        _see(principal, task)
        if not principal.holds(task.role, task.practice):
            raise Denied(f"Only {_a(task.role)} of {task.practice} may {verb} '{task.title}'.")
        if facts.barred_because:
            raise DutiesSeparated(facts.barred_because)

    return rule


def _work_external(principal: Principal, facts: OnExternalTask) -> None:
    task = facts.task
    _see(principal, task)
    if not principal.holds(task.role, task.practice):
        raise Denied(f"Only {_a(task.role)} of {task.practice} may work on the external task '{task.title}'; "
                     "give the worker a token of a user with that role.")


def _unclaim(principal: Principal, facts: OnHumanTask) -> None:
    task = facts.task
    _see(principal, task)
    if task.assignee in (None, principal.username):
        return
    if not (principal.is_admin or principal.holds(Role.MANAGER, task.practice)
            or principal.holds(Role.OWNER, task.practice)):
        raise Denied(f"'{task.title}' is held by {task.assignee}; only they, or a manager or owner of "
                     f"{task.practice}, may release it.")


def _assign(principal: Principal, facts: OnHumanTask) -> None:
    task = facts.task
    _see(principal, task)
    if not (principal.is_admin or principal.holds(Role.MANAGER, task.practice)
            or principal.holds(Role.OWNER, task.practice)):
        raise Denied(f"Only a manager or owner of {task.practice} (or an admin) may assign tasks.")


def _work_on(principal: Principal, facts: OnHumanTask) -> None:
    task = facts.task
    if not principal.holds(task.role, task.practice):
        raise Denied(f"{principal.username} is not {_a(task.role)} of {task.practice}, so cannot be given "
                     f"'{task.title}'.")
    if facts.barred_because:
        raise DutiesSeparated(facts.barred_because)


def _view_user(principal: Principal, facts: NamedUser) -> None:
    if facts.username != principal.username and not principal.is_admin:
        raise Denied("Only an admin may read another user's account; you may read your own.")


def _administer(principal: Principal, facts: Facts) -> None:
    if not principal.is_admin:
        raise Denied("Only an admin may manage users, tokens and role assignments.")


def _migrate(principal: Principal, facts: InPractice) -> None:
    if not (principal.is_admin or principal.holds(Role.OWNER, facts.practice)):
        raise Denied(f"Only the process owner of {facts.practice} (or an admin) may migrate its instances.")


def _view_cab_agenda(principal: Principal, facts: InPractice) -> None:
    if not (principal.is_admin or any(principal.holds(role, facts.practice)
                                      for role in (Role.CAB, Role.MANAGER, Role.OWNER))):
        raise Denied(f"Only CAB members, managers and owners of {facts.practice} (or an admin) may see its CAB "
                     "agenda.")


def _chair_cab(principal: Principal, facts: InPractice) -> None:
    _see(principal, facts)
    if not (principal.is_admin or principal.holds(Role.MANAGER, facts.practice)
            or principal.holds(Role.OWNER, facts.practice)):
        raise Denied(f"Only the chair of the CAB of {facts.practice} (a manager or owner of the practice, or an "
                     "admin) may record its outcomes.")


def _set_cab_rules(principal: Principal, facts: InPractice) -> None:
    if not (principal.is_admin or principal.holds(Role.OWNER, facts.practice)):
        raise Denied(f"Only the process owner of {facts.practice} (or an admin) may set the CAB rules of its "
                     "change models.")


def _view_kpis(principal: Principal, facts: InPractice) -> None:
    _see(principal, facts)
    if not (principal.is_admin or principal.holds(Role.OWNER, facts.practice)
            or principal.holds(Role.MANAGER, facts.practice)):
        raise Denied(f"Only an owner or manager of {facts.practice} (or an admin) may see its KPIs.")


def _manage_catalog(principal: Principal, facts: InPractice) -> None:
    _see(principal, facts)
    if not (principal.is_admin or principal.holds(Role.OWNER, facts.practice)):
        raise Denied(f"Only the process owner of {facts.practice} (or an admin) may publish, retire or approve "
                     "its standard change templates.")


# The action decides which facts come with it, so the table can only say "some facts" (Any) for its values.
_RULES: dict[Action, Callable[[Principal, Any], None]] = {
    Action.DEPLOY: _deploy,
    Action.START: _start,
    Action.VIEW_INSTANCE: _see,
    Action.MANAGE_INSTANCE: _manage,
    Action.SEND_MESSAGE: _send_message,
    Action.VIEW_TASK: _see,
    Action.CLAIM: _act_on_task("claim"),
    Action.UNCLAIM: _unclaim,
    Action.COMPLETE: _act_on_task("complete"),
    Action.ASSIGN: _assign,
    Action.WORK_ON: _work_on,
    Action.WORK_EXTERNAL: _work_external,
    Action.VIEW_USER: _view_user,
    Action.ADMINISTER: _administer,
    Action.MIGRATE: _migrate,
    Action.VIEW_CAB_AGENDA: _view_cab_agenda,
    Action.CHAIR_CAB: _chair_cab,
    Action.SET_CAB_RULES: _set_cab_rules,
    Action.VIEW_KPIS: _view_kpis,
    Action.MANAGE_CATALOG: _manage_catalog,
}
