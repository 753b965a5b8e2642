"""Who may read which CAB agenda, and the rules listing: shared by the API and the web app."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from cab.store import CabStore
from cab.views import RuleView
from engine.views import ModelView, ProcessFacts
from roles.errors import Denied
from roles.policy import Action, Principal, Role, check

AGENDA_ROLES = (Role.CAB, Role.MANAGER, Role.OWNER)


def agenda_practices(caller: Principal, practice: str | None = None) -> tuple[str, ...] | None:
    """The practices whose CAB agenda ``caller`` may read (None: all), narrowed to ``practice`` when given.

    CAB members, managers and owners of a practice read its agenda; admins read every one. Refuses
    (``Denied``, 403) with the reason when the caller may read none, or not the one asked for.
    """
    if practice is not None:
        check(caller, Action.VIEW_CAB_AGENDA, ProcessFacts("", practice))
        return (practice,)
    if caller.is_admin:
        return None
    practices = tuple(sorted({p for role, p in caller.grants if role in AGENDA_ROLES}))
    if not practices:
        raise Denied("Only CAB members, managers and owners (or an admin) may see the CAB agenda.")
    return practices


def may_read_an_agenda(caller: Principal) -> bool:
    """Whether ``caller`` may read some practice's CAB agenda (the web app's navigation shows the link)."""
    return caller.is_admin or any(role in AGENDA_ROLES for role, _practice in caller.grants)


def rule_views(session: Session, models: Iterable[ModelView]) -> list[RuleView]:
    """The CAB rule of each of ``models`` (the defaults where the owner set none)."""
    cab = CabStore(session)
    views = []
    for model in models:
        row = cab.rule_row(model.key)
        views.append(RuleView.of(row, model.practice) if row is not None
                     else RuleView.default(model.key, model.practice))
    return views
