"""Account commands that also touch the engine's tasks: what the API, the web app and the CLI run.

Each composite runs its parts with one ``CommandContext``, so in one transaction: either all of it happens
or none of it does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine import AssignTask, CommandContext, ReleaseClaims
from engine.views import AssigneeFacts, Facts, TaskView
from roles import accounts
from roles.commands import RevokedRole, RevokeRole
from roles.errors import InvalidValue
from roles.policy import Action, check


@dataclass(frozen=True)
class RevokeRoleAndRelease:
    """Take a role away and give back to their queue the tasks its holder may no longer work on."""

    assignment_id: int
    username: str | None = None  # when given, the assignment must be this user's

    def execute(self, ctx: CommandContext) -> RevokedRole:
        revoked = RevokeRole(self.assignment_id, self.username).execute(ctx)
        ReleaseClaims(revoked.assignment.user, revoked.remaining).execute(ctx)
        return revoked


@dataclass(frozen=True)
class AssignTaskTo:
    """Assign a task to a user, reading the assignee's account and roles in this command's transaction.

    The assignee's row is locked, as ``RevokeRole`` locks it: a role revoked concurrently is either seen
    here (and the assignment refused) or revoked after this commits (and the task released by the revoke).
    ``ctx.authorize`` judges the caller; the policy judges the assignee against the task's facts.
    """

    task_id: str
    username: str

    def execute(self, ctx: CommandContext) -> TaskView:
        user = accounts.find_user(ctx.session, self.username, lock=True)
        if user is None or not user.is_active:
            raise InvalidValue(f"There is no active user '{self.username}'.", field="user")
        assignee = accounts.principal_of(user)
        authorize_caller = ctx.authorize

        def authorize(facts: Facts) -> None:
            if isinstance(facts, AssigneeFacts):
                check(assignee, Action.WORK_ON, facts)
            else:
                authorize_caller(facts)

        return AssignTask(self.task_id, assignee=assignee.username).execute(replace(ctx, authorize=authorize))
