"""What the catalog answers: plain frozen views of templates and of candidates for new ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalog.models import ChangeTemplate


@dataclass(frozen=True)
class TemplateView:
    id: int
    key: str
    version: int
    practice: str
    status: str
    name: str
    service: str
    implementation_plan: str
    backout_plan: str
    test_plan: str
    max_risk: str
    allowed_windows: list[dict[str, Any]]
    source_changes: list[str]
    published_by: str
    published_at: datetime
    retired_by: str | None
    retired_at: datetime | None

    @classmethod
    def of(cls, row: ChangeTemplate) -> TemplateView:
        return cls(id=row.id, key=row.key, version=row.version, practice=row.practice, status=row.status.value,
                   name=row.name, service=row.service, implementation_plan=row.implementation_plan,
                   backout_plan=row.backout_plan, test_plan=row.test_plan, max_risk=row.max_risk,
                   allowed_windows=list(row.allowed_windows), source_changes=list(row.source_changes or []),
                   published_by=row.published_by, published_at=row.published_at, retired_by=row.retired_by,
                   retired_at=row.retired_at)


@dataclass(frozen=True)
class CandidateView:
    """A service and implementation plan that closed normal changes carried out successfully again and again."""

    service: str
    implementation_plan: str
    backout_plan: str
    test_plan: str
    successes: int
    changes: list[str]  # business keys, newest first
    last_closed_at: datetime | None
