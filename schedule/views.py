"""Reads of the schedule for the API, the web app and the feeds: each in its own snapshot, never a workflow load."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from engine import Database
from engine.prepared import Prepared
from schedule.commands import token_hash
from schedule.conflicts import conflicts_among, find_conflicts
from schedule.lead_time import check_window
from schedule.models import BlackoutWindow, CalendarToken, EntryState, ScheduleEntry, SchedulePolicy, Service
from schedule.store import ScheduleStore


@dataclass(frozen=True)
class EntryView:
    """A change or release on the forward schedule, with its conflicts when they were asked for."""

    business_key: str
    practice: str
    process: str
    title: str
    service: str | None
    starts_at: datetime
    ends_at: datetime
    state: str
    requested_by: str
    delivered_by: str | None
    outcome: str | None
    conflicts: tuple[dict[str, Any], ...] = ()

    @classmethod
    def of(cls, row: ScheduleEntry, conflicts: list[dict[str, Any]] | None = None) -> EntryView:
        return cls(row.business_key, row.practice, row.process_key, row.title, row.service, row.starts_at,
                   row.ends_at, row.state.value, row.requested_by, row.delivered_by, row.outcome,
                   tuple(conflicts or ()))


# Every task page asks for its record's conflicts, and most records are not scheduled changes: this one
# indexed read on the driver's cursor (engine.prepared) answers them without a session.
_ENTRY_KIND = Prepared(select(ScheduleEntry.practice, ScheduleEntry.state)
                       .where(ScheduleEntry.business_key == bindparam("business_key")))


def _may_conflict(practice: str, state: EntryState) -> bool:
    """Only a change still waiting for or holding its window has conflicts (not withdrawn, finished or a release)."""
    return practice == "change" and state in (EntryState.REQUESTED, EntryState.AUTHORIZED)


def entry_conflicts(store: ScheduleStore, row: ScheduleEntry) -> list[dict[str, Any]]:
    """The live conflicts of a scheduled change (none for withdrawn, finished or release entries)."""
    if not _may_conflict(row.practice, row.state):
        return []
    return find_conflicts(store.session, service=row.service, starts_at=row.starts_at, ends_at=row.ends_at,
                          exclude=row.business_key)


def live_conflicts(database: Database, business_key: str) -> list[dict[str, Any]]:
    """The conflicts of ``business_key``'s window as the schedule stands now (``[]`` when it is not scheduled)."""
    with database.reading() as connection:
        kind = _ENTRY_KIND.first(connection, {"business_key": business_key})
    if kind is None or not _may_conflict(kind.practice, kind.state):
        return []
    with database.snapshot() as session:
        store = ScheduleStore(session)
        row = store.entry(business_key)
        return entry_conflicts(store, row) if row is not None else []


def schedule_between(database: Database, starts: datetime, ends: datetime, *, service: str | None = None,
                     requested_by: str | None = None, with_conflicts: bool = False, include_withdrawn: bool = False,
                     offset: int = 0, limit: int = 5000) -> list[EntryView]:
    """The changes and releases whose window overlaps ``[starts, ends)``, by start (a page of them)."""
    return schedule_page(database, starts, ends, service=service, requested_by=requested_by,
                         with_conflicts=with_conflicts, include_withdrawn=include_withdrawn, offset=offset,
                         limit=limit, count=False)[0]


def schedule_page(database: Database, starts: datetime, ends: datetime, *, service: str | None = None,
                  requested_by: str | None = None, with_conflicts: bool = False, include_withdrawn: bool = False,
                  offset: int = 0, limit: int = 100, count: bool = True) -> tuple[list[EntryView], int]:
    """A page of ``schedule_between``, with the total (when ``count``), each entry with its conflicts when asked."""
    with database.snapshot() as session:
        store = ScheduleStore(session)
        rows = store.window(starts, ends, service=service, requested_by=requested_by,
                            include_withdrawn=include_withdrawn, offset=offset, limit=limit)
        total = store.count_window(starts, ends, service=service, requested_by=requested_by,
                                   include_withdrawn=include_withdrawn) if count else len(rows)
        conflicts = conflicts_among(session, rows) if with_conflicts else {}
        return [EntryView.of(row, conflicts.get(row.business_key)) for row in rows], total


def services(database: Database) -> list[Service]:
    with database.snapshot() as session:
        rows = list(ScheduleStore(session).services())
        session.expunge_all()
        return rows


def blackouts(database: Database, starts: datetime | None = None, ends: datetime | None = None,
              service: str | None = None) -> list[BlackoutWindow]:
    with database.snapshot() as session:
        rows = list(ScheduleStore(session).blackouts(starts, ends, service=service))
        session.expunge_all()
        return rows


def policies(database: Database) -> list[SchedulePolicy]:
    with database.snapshot() as session:
        rows = list(ScheduleStore(session).policies())
        session.expunge_all()
        return rows


def calendar_tokens_of(database: Database, username: str) -> list[CalendarToken]:
    with database.snapshot() as session:
        rows = list(ScheduleStore(session).calendar_tokens_of(username))
        session.expunge_all()
        return rows


def linked_change_keys(database: Database, release_key: str) -> list[str]:
    """The changes a release carries (or carried: links a release let go of are kept)."""
    with database.snapshot() as session:
        return [link.change_key for link in ScheduleStore(session).links_of_release(release_key, active_only=False)]


def check_conflicts(database: Database, *, service: str | None, starts_at: datetime, ends_at: datetime,
                    process: str | None = None, exclude: str | None = None,
                    now: datetime) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """A window's conflicts, and (for a change model) why its timing would be refused: what a form shows before
    the request is raised."""
    with database.snapshot() as session:
        conflicts = find_conflicts(session, service=service, starts_at=starts_at, ends_at=ends_at, exclude=exclude)
        refused = check_window(session, process, starts_at, ends_at, now=now) if process else {}
        return conflicts, refused


@dataclass(frozen=True)
class Feed:
    """What a calendar token opens: whose feed, of what."""

    username: str
    service: str | None

    @property
    def name(self) -> str:
        return f"Changes on {self.service}" if self.service else f"Changes of {self.username}"


def feed_of_token(database: Database, token: str) -> Feed | None:
    """The feed a calendar token opens, or None for an unknown token."""
    with database.snapshot() as session:
        row = ScheduleStore(session).calendar_token(token_hash(token))
        return Feed(row.username, row.service) if row is not None else None
