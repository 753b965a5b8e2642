"""The catalog's table: standard change templates, one row per published version.

A template names its service by reference: ``service_id`` is the service's row in the schedule's catalog
(``schedule.models.Service``), and ``service`` keeps its name as published, which the API shows and changes raised
from the template carry (the schedule refers to services by name). Names never change (``UpdateService`` cannot
rename), so the two agree while the reference stands.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column
from sqlalchemy_utc import UtcDateTime

from engine.errors import Conflict
from engine.models import NAMING_CONVENTION
from schedule.models import Service

metadata = MetaData(naming_convention=NAMING_CONVENTION)
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class TemplateStatus(StrEnum):
    """Lifecycle of one template version."""

    ACTIVE = "active"  # the version changes are raised from
    SUPERSEDED = "superseded"  # a newer version of the same template was published
    RETIRED = "retired"  # the template may no longer be used


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonDocument}


class ChangeTemplate(Base):
    """A standard change model: pre-authorized plans for one service, used within allowed windows."""

    __tablename__ = "change_template"
    __table_args__ = (
        UniqueConstraint("key", "version"),
        Index("ix_change_template_status", "practice", "status", "key"),
        # The database's own guard: an active template always names a service of the catalog (the removal rule
        # below refuses first, with the templates named; this catches whatever goes round it).
        CheckConstraint("status <> 'active' OR service_id IS NOT NULL", name="ck_change_template_active_service"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    practice: Mapped[str] = mapped_column(String(50))
    status: Mapped[TemplateStatus] = mapped_column(
        Enum(TemplateStatus, native_enum=False, length=20, values_callable=lambda members: [m.value for m in members]))
    name: Mapped[str] = mapped_column(String(200))
    # The service in the catalog. Only a version no longer in use (superseded or retired) loses it, when the
    # service leaves the catalog; it keeps the name below, as changes raised before keep theirs.
    service_id: Mapped[int | None] = mapped_column(ForeignKey(Service.id, ondelete="SET NULL"), index=True)
    service: Mapped[str] = mapped_column(String(200))  # the service's name, as published
    implementation_plan: Mapped[str] = mapped_column(Text)
    backout_plan: Mapped[str] = mapped_column(Text)
    test_plan: Mapped[str] = mapped_column(Text)
    max_risk: Mapped[str] = mapped_column(String(10))
    # [{"days": ["mon", ...], "start": "HH:MM", "end": "HH:MM"}, ...], in UTC
    allowed_windows: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    # The closed changes a template approved from the maturity loop was proposed from (else empty).
    source_changes: Mapped[list[str]] = mapped_column(JsonDocument)
    published_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime]
    retired_by: Mapped[str | None] = mapped_column(String(100))
    retired_at: Mapped[datetime | None]


@event.listens_for(Service, "before_delete")
def _refuse_removing_a_service_in_use(_mapper: Mapper[Service], connection: Connection, target: Service) -> None:
    """A service that active templates name may not leave the catalog: ``409`` naming them. The owner retires
    them, or publishes new versions on another service, first. Versions no longer in use do not hold it back."""
    rows = connection.execute(
        select(ChangeTemplate.key, ChangeTemplate.name)
        .where(ChangeTemplate.service_id == target.id, ChangeTemplate.status == TemplateStatus.ACTIVE)
        .order_by(ChangeTemplate.key)).all()
    if rows:
        named = ", ".join(f"'{key}' ({name})" for key, name in rows)
        raise Conflict(f"The service '{target.name}' is named by active standard change templates: {named}. Retire "
                       "them, or publish new versions of them on another service, then remove it.",
                       service=target.name, templates=[key for key, _name in rows])
