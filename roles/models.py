"""Tables for people and what they may do."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy_utc import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_N_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {datetime: UtcDateTime()}


class User(Base):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # Sign-in for people (the web app). The hash is argon2id's encoded string, salt and parameters included.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_changed_at: Mapped[datetime | None]
    # A session cookie carries the epoch it was issued in; bumping it (password change, disabling) ends
    # every session at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Consecutive failed sign-ins, and until when the next attempt is refused (throttling).
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sign_in_blocked_until: Mapped[datetime | None]

    assignments: Mapped[list[RoleAssignment]] = relationship(back_populates="user", lazy="selectin",
                                                             order_by="RoleAssignment.id")


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored: the token itself is shown once, when issued."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class RoleAssignment(Base):
    """A user holds a role in a practice (or in every practice: ``*``)."""

    __tablename__ = "role_assignment"
    __table_args__ = (UniqueConstraint("user_id", "role", "practice"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    role: Mapped[str] = mapped_column(String(30))
    practice: Mapped[str] = mapped_column(String(50))
    granted_by: Mapped[str] = mapped_column(String(100))
    granted_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="assignments")
