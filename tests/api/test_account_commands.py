"""User, role and token operations as commands: one transaction each, one rule for every caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from engine import CommandContext, Conflict, ReleaseClaims
from itsm.accounts import AssignTaskTo, RevokeRoleAndRelease
from roles.commands import DisableUser, RevokeRole
from roles.errors import Denied, InvalidValue
from tests.api.support import assert_problem, rows

# What these tests check happens in Python around one transaction; one backend is enough.
pytestmark = pytest.mark.sqlite_only


def _assignment_id(http, user: str, role: str, practice: str) -> int:
    held = http.get(f"/api/role-assignments?user={user}", "admin").get_json()
    [assignment] = [a for a in held if (a["role"], a["practice"]) == (role, practice)]
    return assignment["id"]


# -- revoking a role and releasing its tasks: one transaction ---------------------------------------------


def test_when_releasing_the_tasks_fails_the_role_is_not_revoked_either(app, http, clock, shipped, monkeypatch):
    task = http.start_change(clock)["tasks"][0]
    assert http.post(f"/api/tasks/{task['id']}/claim", "change-manager").status_code == 200
    assignment = _assignment_id(http, "change-manager", "manager", "change")
    before = rows(app)

    def lose_the_race(self: ReleaseClaims, ctx: CommandContext) -> list[str]:
        raise Conflict("The instance changed while this request ran; reload it and try again.")

    monkeypatch.setattr(ReleaseClaims, "execute", lose_the_race)
    response = http.delete(f"/api/role-assignments/{assignment}", "admin")

    assert_problem(response, 409, "conflict")
    assert rows(app) == before  # the grant is still there, and the task still held
    assert http.get(f"/api/tasks/{task['id']}", "change-manager").get_json()["assignee"] == "change-manager"


def test_the_revoke_and_the_release_commit_together(app, app_engine, http, clock, shipped):
    task = http.start_change(clock)["tasks"][0]
    http.post(f"/api/tasks/{task['id']}/claim", "change-manager")
    assignment = _assignment_id(http, "change-manager", "manager", "change")

    revoked = app_engine.run(RevokeRoleAndRelease(assignment), actor="admin")

    assert (revoked.assignment.user, revoked.assignment.role, revoked.remaining) == ("change-manager", "manager",
                                                                                      frozenset())
    assert assignment not in [row["id"] for row in rows(app, "role_assignment")["role_assignment"]]
    [held] = [row for row in rows(app, "human_task")["human_task"] if row["id"] == task["id"]]
    assert held["assignee"] is None


def test_the_web_revoke_refuses_an_assignment_of_another_user(app, app_engine, http):
    assignment = _assignment_id(http, "change-manager", "manager", "change")
    before = rows(app)

    with pytest.raises(InvalidValue, match="not this user's"):
        app_engine.run(RevokeRoleAndRelease(assignment, "release-owner"), actor="admin")

    assert rows(app) == before


# -- one rule for the CLI and the API ---------------------------------------------------------------------


def test_the_cli_and_the_api_refuse_an_admin_grant_for_one_practice_alike(app, http):
    before = rows(app, "role_assignment")

    api = assert_problem(http.post("/api/role-assignments", "admin",
                                   {"user": "nobody", "role": "admin", "practice": "change"}), 422)
    cli = app.test_cli_runner().invoke(args=["roles", "grant", "nobody", "admin:change"])

    [message] = api["errors"]["practice"]
    assert cli.exit_code == 1
    assert cli.output == f"Error: {message}\n"
    assert rows(app, "role_assignment") == before


# -- the assignee is read inside the assign command -------------------------------------------------------


@dataclass(frozen=True)
class Then:
    """Two commands in one transaction: ``first`` changes the assignee, then ``second`` assigns."""

    first: Any
    second: Any

    def execute(self, ctx: CommandContext) -> Any:
        self.first.execute(ctx)
        return self.second.execute(ctx)


def test_an_assignee_disabled_in_the_same_transaction_is_refused(app, app_engine, http, clock, shipped):
    # Only a lookup through the command's own session can see a change that is not committed yet.
    task = http.change_at(clock, app_engine, "implement_change")
    before = rows(app)

    with pytest.raises(InvalidValue, match="no active user 'change-practitioner-2'") as refused:
        app_engine.run(Then(DisableUser("change-practitioner-2"), AssignTaskTo(task["id"], "change-practitioner-2")),
                       actor="change-manager")

    assert refused.value.field == "user"
    assert rows(app) == before


def test_an_assignee_whose_role_is_revoked_in_the_same_transaction_is_refused(app, app_engine, http, clock, shipped):
    task = http.change_at(clock, app_engine, "implement_change")
    assignment = _assignment_id(http, "change-practitioner-2", "practitioner", "change")
    before = rows(app)

    with pytest.raises(Denied, match="change-practitioner-2 is not a practitioner of change"):
        app_engine.run(Then(RevokeRole(assignment), AssignTaskTo(task["id"], "change-practitioner-2")),
                       actor="change-manager")

    assert rows(app) == before


def test_an_assignee_disabled_before_the_request_is_refused_over_http(app, app_engine, http, clock, shipped):
    task = http.change_at(clock, app_engine, "implement_change")
    app_engine.run(DisableUser("change-practitioner-2"), actor="admin")
    before = rows(app)

    response = http.post(f"/api/tasks/{task['id']}/assign", "change-manager", {"user": "change-practitioner-2"})

    assert assert_problem(response, 422, "validation-failed")["errors"] == {
        "user": ["There is no active user 'change-practitioner-2'."]}
    assert rows(app) == before
