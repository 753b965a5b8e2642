"""The catalog's reads: templates (latest version per key) and the maturity loop's candidates.

Candidates come from the indexed mirror of closed instances (``process_instance``: its status, end time and
latest data), grouped in SQL; no workflow is loaded.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from catalog.models import ChangeTemplate, TemplateStatus
from catalog.views import CandidateView, TemplateView
from engine.models import ProcessInstance
from engine.states import InstanceStatus

NORMAL_CHANGE = "normal_change"
SUCCESSFUL = "successful"
CANDIDATE_EXAMPLES = 20  # business keys shown per candidate


def latest_version(session: Session, key: str, *, lock: bool = False) -> ChangeTemplate | None:
    """The newest version of the template ``key`` (locked for the transaction when ``lock``)."""
    statement = select(ChangeTemplate).where(ChangeTemplate.key == key).order_by(ChangeTemplate.version.desc()).limit(1)
    if lock:
        statement = statement.with_for_update()
    return session.scalars(statement).first()


def list_templates(session: Session, practice: str, *, include_retired: bool = False) -> list[TemplateView]:
    """The latest version of every template of the practice, by name; retired ones only when asked."""
    newest = (select(ChangeTemplate.key, func.max(ChangeTemplate.version).label("version"))
              .where(ChangeTemplate.practice == practice).group_by(ChangeTemplate.key).subquery())
    statement = (select(ChangeTemplate)
                 .join(newest, (ChangeTemplate.key == newest.c.key) & (ChangeTemplate.version == newest.c.version))
                 .order_by(ChangeTemplate.name, ChangeTemplate.key))
    if not include_retired:
        statement = statement.where(ChangeTemplate.status == TemplateStatus.ACTIVE)
    return [TemplateView.of(row) for row in session.scalars(statement)]


def template_versions(session: Session, key: str) -> list[TemplateView]:
    """Every version of a template, newest first."""
    statement = select(ChangeTemplate).where(ChangeTemplate.key == key).order_by(ChangeTemplate.version.desc())
    return [TemplateView.of(row) for row in session.scalars(statement)]


def _successful_normal_changes(practice: str) -> Subquery:
    """Closed normal changes implemented successfully: their service and plans, as a subquery."""
    data = ProcessInstance.data
    return (select(ProcessInstance.business_key, ProcessInstance.ended_at,
                   data["affected_service"].as_string().label("service"),
                   data["implementation_plan"].as_string().label("plan"),
                   data["backout_plan"].as_string().label("backout_plan"),
                   data["test_plan"].as_string().label("test_plan"))
            .where(ProcessInstance.practice == practice, ProcessInstance.process_key == NORMAL_CHANGE,
                   ProcessInstance.status == InstanceStatus.COMPLETED,
                   data["implementation_outcome"].as_string() == SUCCESSFUL)
            .subquery())


def candidates(session: Session, practice: str, min_successes: int) -> list[CandidateView]:
    """(service, implementation plan) pairs with at least ``min_successes`` successful closed normal changes
    that no active template covers yet, most successes first."""
    changes = _successful_normal_changes(practice)
    grouped = (select(changes.c.service, changes.c.plan)
               .where(changes.c.service.is_not(None), changes.c.plan.is_not(None))
               .group_by(changes.c.service, changes.c.plan)
               .having(func.count() >= min_successes)
               .order_by(func.count().desc(), changes.c.service))
    covered = {(service, plan) for service, plan in session.execute(
        select(ChangeTemplate.service, ChangeTemplate.implementation_plan)
        .where(ChangeTemplate.practice == practice, ChangeTemplate.status == TemplateStatus.ACTIVE))}
    found = []
    for service, plan in session.execute(grouped):
        if (service, plan) not in covered:
            found.append(candidate(session, practice, service, plan))
    return found


def candidate(session: Session, practice: str, service: str, plan: str) -> CandidateView:
    """One candidate's details: its latest backout and test plans and the changes behind it."""
    changes = _successful_normal_changes(practice)
    rows = session.execute(select(changes.c.business_key, changes.c.ended_at, changes.c.backout_plan,
                                  changes.c.test_plan)
                           .where(changes.c.service == service, changes.c.plan == plan)
                           .order_by(changes.c.ended_at.desc(), changes.c.business_key.desc())).all()
    latest = rows[0] if rows else None
    return CandidateView(service=service, implementation_plan=plan,
                         backout_plan=(latest.backout_plan or "") if latest else "",
                         test_plan=(latest.test_plan or "") if latest else "", successes=len(rows),
                         changes=[row.business_key for row in rows[:CANDIDATE_EXAMPLES]],
                         last_closed_at=latest.ended_at if latest else None)
