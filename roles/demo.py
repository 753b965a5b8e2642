"""Demo users for a first start on an empty database: an admin and one user per role and practice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from roles import accounts
from roles.policy import ALL_PRACTICES, PRACTICE_ROLES, Role

DEMO_PRACTICES = ("change", "release")


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
            plan.append((f"{practice}-{role.value}", f"Demo {practice} {role.value}", [(role, practice)]))
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
