"""The catalog's table: standard change templates, one row per published version."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy_utc import UtcDateTime

from engine.models import NAMING_CONVENTION

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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    practice: Mapped[str] = mapped_column(String(50))
    status: Mapped[TemplateStatus] = mapped_column(
        Enum(TemplateStatus, native_enum=False, length=20, values_callable=lambda members: [m.value for m in members]))
    name: Mapped[str] = mapped_column(String(200))
    # A plain name for now; the services catalog (schedule/) may make it a reference.
    service: Mapped[str] = mapped_column(String(200))
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
