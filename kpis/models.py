"""The KPIs' own table: one row of figures per closed record, derived from the mirror tables and the trail.

A report aggregates plain columns here instead of reading JSON and joining tasks and events for every
record of every period (100,000 closed changes stay fast). ``kpis.records`` fills it from the engine's
tables (``process_instance``, ``human_task``, ``event``) in SQL; nothing is ever derived from a workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, MetaData, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy_utc import UtcDateTime

from engine.models import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)

JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {datetime: UtcDateTime()}


class KpiRecord(Base):
    """The figures of one closed change or release (flags are 0 or 1, so that reports can sum them)."""

    __tablename__ = "kpi_record"
    __table_args__ = (Index("ix_kpi_record_closed", "practice", "ended_at"),)

    instance_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # process_instance.id
    practice: Mapped[str] = mapped_column(String(50))
    process_key: Mapped[str] = mapped_column(String(100))
    ended_at: Mapped[datetime]
    closure_hours: Mapped[float] = mapped_column(Float)
    implemented: Mapped[int] = mapped_column(Integer)
    successful: Mapped[int] = mapped_column(Integer)
    backed_out: Mapped[int] = mapped_column(Integer)
    rolled_back: Mapped[int] = mapped_column(Integer)  # a release carrying it was rolled back
    authorized: Mapped[int] = mapped_column(Integer)  # a person authorized it (an authorization task)
    authorization_hours: Mapped[float | None] = mapped_column(Float)  # request to the last authorization decision
    sla_breach: Mapped[int] = mapped_column(Integer)
    reworked: Mapped[int] = mapped_column(Integer)
    release_outcome: Mapped[str | None] = mapped_column(String(30))  # releases: deployed, rolled_back, ...
    linked_changes: Mapped[int] = mapped_column(Integer)  # releases: how many changes it carried


class KpiPeriod(Base):
    """A period's figures as last computed, so that a report recomputes only the periods whose records changed
    (``kpis.records`` deletes the periods a new or changed record falls in)."""

    __tablename__ = "kpi_period"

    practice: Mapped[str] = mapped_column(String(50), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # week or month
    label: Mapped[str] = mapped_column(String(10), primary_key=True)  # 2026-11, 2026-W47
    start: Mapped[datetime]
    end: Mapped[datetime]
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    computed_at: Mapped[datetime]
