"""Every query on the schedule's tables. Commands, service functions and rules go through ``ScheduleStore``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from schedule.models import (
    BlackoutWindow,
    CalendarToken,
    EntryState,
    ReleaseLink,
    ScheduleEntry,
    SchedulePolicy,
    Service,
)

#: The longest window a change may have. Bounding it lets a range query walk the start index from
#: ``from - LONGEST_WINDOW`` instead of from the beginning of time.
LONGEST_WINDOW = timedelta(days=31)
#: States that hold a window on the schedule (they can collide with another change): all but withdrawn.
LIVE_STATES = (EntryState.REQUESTED, EntryState.AUTHORIZED, EntryState.IMPLEMENTED, EntryState.DELIVERED)


class ScheduleStore:
    """The schedule's queries, in the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)
        self.session.flush()

    def delete(self, row: object) -> None:
        self.session.delete(row)
        self.session.flush()

    # -- services -----------------------------------------------------------------------------------

    def services(self) -> Sequence[Service]:
        return self.session.scalars(select(Service).order_by(Service.name)).all()

    def service_names(self) -> list[str]:
        return list(self.session.scalars(select(Service.name).order_by(Service.name)))

    def services_named(self, names: Iterable[str]) -> Sequence[Service]:
        wanted = list(names)
        if not wanted:
            return []
        return self.session.scalars(select(Service).where(Service.name.in_(wanted))).all()

    def service(self, name: str, *, lock: bool = False) -> Service | None:
        query = select(Service).where(Service.name == name)
        return self.session.scalars(query.with_for_update() if lock else query).first()

    # -- blackouts ----------------------------------------------------------------------------------

    def blackouts(self, starts: datetime | None = None, ends: datetime | None = None,
                  service: str | None = None) -> Sequence[BlackoutWindow]:
        """Blackouts that overlap ``[starts, ends)`` (all when unbounded), global or for ``service``."""
        query = select(BlackoutWindow).order_by(BlackoutWindow.starts_at, BlackoutWindow.id)
        if ends is not None:
            query = query.where(BlackoutWindow.starts_at < ends)
        if starts is not None:
            query = query.where(BlackoutWindow.ends_at > starts)
        if service is not None:
            query = query.where(or_(BlackoutWindow.service.is_(None), BlackoutWindow.service == service))
        return self.session.scalars(query).all()

    def blackout(self, blackout_id: int) -> BlackoutWindow | None:
        return self.session.get(BlackoutWindow, blackout_id)

    # -- the forward schedule -----------------------------------------------------------------------

    def entry(self, business_key: str, *, lock: bool = False) -> ScheduleEntry | None:
        query = select(ScheduleEntry).where(ScheduleEntry.business_key == business_key)
        return self.session.scalars(query.with_for_update() if lock else query).first()

    def entries(self, business_keys: Iterable[str]) -> dict[str, ScheduleEntry]:
        keys = list(business_keys)
        if not keys:
            return {}
        rows = self.session.scalars(select(ScheduleEntry).where(ScheduleEntry.business_key.in_(keys)))
        return {row.business_key: row for row in rows}

    def overlapping(self, service: str, starts: datetime, ends: datetime, *,
                    exclude: str | None = None) -> Sequence[ScheduleEntry]:
        """Live entries on ``service`` whose window overlaps ``[starts, ends)``."""
        query = select(ScheduleEntry).where(
            ScheduleEntry.service == service, ScheduleEntry.starts_at < ends,
            ScheduleEntry.starts_at > starts - LONGEST_WINDOW, ScheduleEntry.ends_at > starts,
            ScheduleEntry.state.in_(LIVE_STATES))
        if exclude is not None:
            query = query.where(ScheduleEntry.business_key != exclude)
        return self.session.scalars(query.order_by(ScheduleEntry.starts_at, ScheduleEntry.id)).all()

    def _window_conditions(self, starts: datetime, ends: datetime, service: str | None, requested_by: str | None,
                           include_withdrawn: bool) -> list[ColumnElement[bool]]:
        conditions = [ScheduleEntry.starts_at < ends, ScheduleEntry.starts_at > starts - LONGEST_WINDOW,
                      ScheduleEntry.ends_at > starts]
        if service is not None:
            conditions.append(ScheduleEntry.service == service)
        if requested_by is not None:
            conditions.append(ScheduleEntry.requested_by == requested_by)
        if not include_withdrawn:
            conditions.append(ScheduleEntry.state != EntryState.WITHDRAWN)
        return conditions

    def window(self, starts: datetime, ends: datetime, *, service: str | None = None,
               requested_by: str | None = None, include_withdrawn: bool = False, offset: int = 0,
               limit: int = 5000) -> Sequence[ScheduleEntry]:
        """Entries whose window overlaps ``[starts, ends)``, by start (a page of them: ``offset``, ``limit``)."""
        conditions = self._window_conditions(starts, ends, service, requested_by, include_withdrawn)
        query = select(ScheduleEntry).where(and_(*conditions))
        query = query.order_by(ScheduleEntry.starts_at, ScheduleEntry.id).offset(offset).limit(limit)
        return self.session.scalars(query).all()

    def count_window(self, starts: datetime, ends: datetime, *, service: str | None = None,
                     requested_by: str | None = None, include_withdrawn: bool = False) -> int:
        conditions = self._window_conditions(starts, ends, service, requested_by, include_withdrawn)
        return self.session.scalar(select(func.count()).select_from(ScheduleEntry).where(and_(*conditions))) or 0

    def live_on_services(self, services: Iterable[str], starts: datetime, ends: datetime) -> Sequence[ScheduleEntry]:
        """Live entries on any of ``services`` whose window overlaps ``[starts, ends)``: the candidates for the
        overlaps of a page of entries."""
        names = list(services)
        if not names:
            return []
        query = select(ScheduleEntry).where(
            ScheduleEntry.service.in_(names), ScheduleEntry.starts_at < ends,
            ScheduleEntry.starts_at > starts - LONGEST_WINDOW, ScheduleEntry.ends_at > starts,
            ScheduleEntry.state.in_(LIVE_STATES))
        return self.session.scalars(query.order_by(ScheduleEntry.starts_at, ScheduleEntry.id)).all()

    # -- policies -----------------------------------------------------------------------------------

    def policy(self, process_key: str, *, lock: bool = False) -> SchedulePolicy | None:
        query = select(SchedulePolicy).where(SchedulePolicy.process_key == process_key)
        return self.session.scalars(query.with_for_update() if lock else query).first()

    def policies(self) -> Sequence[SchedulePolicy]:
        return self.session.scalars(select(SchedulePolicy).order_by(SchedulePolicy.process_key)).all()

    # -- calendar tokens ----------------------------------------------------------------------------

    def calendar_token(self, token_hash: str) -> CalendarToken | None:
        return self.session.scalars(select(CalendarToken).where(CalendarToken.token_hash == token_hash)).first()

    def calendar_tokens_of(self, username: str) -> Sequence[CalendarToken]:
        query = select(CalendarToken).where(CalendarToken.username == username).order_by(CalendarToken.id)
        return self.session.scalars(query).all()

    def calendar_token_by_id(self, token_id: int) -> CalendarToken | None:
        return self.session.get(CalendarToken, token_id)

    # -- release links ------------------------------------------------------------------------------

    def links_of_release(self, release_key: str, *, active_only: bool = True) -> Sequence[ReleaseLink]:
        query = select(ReleaseLink).where(ReleaseLink.release_key == release_key)
        if active_only:
            query = query.where(ReleaseLink.active.is_(True))
        return self.session.scalars(query.order_by(ReleaseLink.change_key)).all()

    def active_links_of_change(self, change_key: str) -> Sequence[ReleaseLink]:
        query = select(ReleaseLink).where(ReleaseLink.change_key == change_key, ReleaseLink.active.is_(True))
        return self.session.scalars(query.order_by(ReleaseLink.release_key)).all()

    def releases_linking(self, change_key: str) -> list[str]:
        """Every release that links (or linked) ``change_key``: their managers may read the change."""
        query = select(ReleaseLink.release_key).where(ReleaseLink.change_key == change_key)
        return list(self.session.scalars(query))

    def replace_links(self, release_key: str, change_keys: Iterable[str], *, actor: str, now: datetime) -> None:
        self.session.execute(delete(ReleaseLink).where(ReleaseLink.release_key == release_key))
        for key in dict.fromkeys(change_keys):
            self.session.add(ReleaseLink(release_key=release_key, change_key=key, active=True, linked_by=actor,
                                         linked_at=now))
        self.session.flush()
