"""The CAB package's own table: the CAB rule of each change model (process model key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy_utc import UtcDateTime

from engine.models import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {datetime: UtcDateTime()}


class CabRuleRow(Base):
    """The quorum, decision rule and vote deadline an owner set for one change model."""

    __tablename__ = "cab_rule"

    process_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    quorum: Mapped[int] = mapped_column(Integer)
    decision_rule: Mapped[str] = mapped_column(String(30))
    vote_hours: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]
