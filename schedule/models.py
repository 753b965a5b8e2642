"""The schedule's tables: the service catalog, blackout windows, the forward schedule of change, lead-time
policies, calendar-feed tokens and the links between releases and the changes they carry.

The forward schedule is kept as indexed rows (service, window, state), written by the shipped processes'
service tasks, so that conflict checks, calendars and feeds never load a workflow.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy_utc import UtcDateTime

from engine.models import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class EntryState(StrEnum):
    """Where a scheduled change or release stands."""

    REQUESTED = "requested"  # raised, not yet authorized
    AUTHORIZED = "authorized"  # authorized, waiting for its window
    DELIVERED = "delivered"  # a change a release carried out (``delivered_by``)
    IMPLEMENTED = "implemented"  # a change that carried itself out
    WITHDRAWN = "withdrawn"  # rejected or cancelled: off the schedule


class Criticality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def _enum(enum_class: type[StrEnum]) -> Enum:
    return Enum(enum_class, native_enum=False, length=20, values_callable=lambda members: [m.value for m in members])


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Service(Base):
    """A service in the catalog. ``maintenance_windows`` is a list of weekly windows,
    ``{"days": ["sun"], "start": "02:00", "end": "06:00"}`` in UTC (an end at or before the start crosses midnight)."""

    __tablename__ = "service"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    practice: Mapped[str] = mapped_column(String(50))
    criticality: Mapped[Criticality] = mapped_column(_enum(Criticality))
    maintenance_windows: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BlackoutWindow(Base):
    """A freeze: no change should be implemented in it. ``service`` None: every service."""

    __tablename__ = "blackout_window"
    __table_args__ = (Index("ix_blackout_window_starts_at", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[str | None] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class ScheduleEntry(Base):
    """A change or release on the forward schedule, by business key."""

    __tablename__ = "schedule_entry"
    __table_args__ = (
        Index("ix_schedule_entry_service_starts_at", "service", "starts_at"),
        # A period's entries and their count are read from this index alone (migration 0013).
        Index("ix_schedule_entry_window", "starts_at", "ends_at", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_key: Mapped[str] = mapped_column(String(40), unique=True)
    practice: Mapped[str] = mapped_column(String(50))
    process_key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    service: Mapped[str | None] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    state: Mapped[EntryState] = mapped_column(_enum(EntryState))
    requested_by: Mapped[str] = mapped_column(String(100))
    delivered_by: Mapped[str | None] = mapped_column(String(40))  # the release that carried this change out
    outcome: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime]


class SchedulePolicy(Base):
    """The lead time a process model's changes need: their planned start at least this many hours ahead."""

    __tablename__ = "schedule_policy"

    process_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    lead_time_hours: Mapped[int] = mapped_column(Integer)
    exempt: Mapped[bool] = mapped_column(Boolean, default=False)  # emergency changes: no lead time, past allowed
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]


class CalendarToken(Base):
    """A calendar feed's secret. Only its SHA-256 is stored; the feed URL carrying it is shown once."""

    __tablename__ = "calendar_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    service: Mapped[str | None] = mapped_column(String(100))  # None: the user's own changes
    created_at: Mapped[datetime]


class ReleaseLink(Base):
    """A change a release carries. ``active`` turns False when the release ends without deploying it."""

    __tablename__ = "release_link"

    release_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    change_key: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    linked_by: Mapped[str] = mapped_column(String(100))
    linked_at: Mapped[datetime]
