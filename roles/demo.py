"""Demo users for a first start on an empty database: an admin, one user per role and practice, and two
members of change's CAB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from roles import accounts
from roles.policy import ALL_PRACTICES, PRACTICE_ROLES, Role

DEMO_PRACTICES = ("change", "release")
# Two CAB members of change, so that the default CAB quorum (two votes) can be met in a demo.
DEMO_CAB = (("change-cab", "change"), ("change-cab-2", "change"))


@dataclass(frozen=True)
class DemoUser:
    username: str
    grants: tuple[tuple[str, str], ...]
    token: str
    password: str


def create_demo_users(session: Session, *, now: datetime) -> list[DemoUser]:
    """Create the demo users with a token and a password each; call it only when there are no users at all."""
    plan: list[tuple[str, str, list[tuple[str, str]]]] = [("admin", "Demo admin", [(Role.ADMIN, ALL_PRACTICES)])]
    for practice in DEMO_PRACTICES:
        for role in PRACTICE_ROLES:
            if role is not Role.CAB:
                plan.append((f"{practice}-{role.value}", f"Demo {practice} {role.value}", [(role, practice)]))
    plan += [(username, f"Demo {practice} CAB member", [(Role.CAB, practice)]) for username, practice in DEMO_CAB]
    created = []
    for username, display_name, grants in plan:
        user = accounts.create_user(session, username, now=now, display_name=display_name)
        for granted, practice in grants:
            accounts.grant(session, user, granted, practice, granted_by="setup", now=now)
        _row, token = accounts.issue_token(session, user, now=now)
        password = accounts.generate_password()
        accounts.set_password(session, user, password, now=now)
        created.append(DemoUser(username, tuple((str(r), p) for r, p in grants), token, password))
    return created
