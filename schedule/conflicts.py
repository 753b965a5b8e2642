"""The conflict rules: what is wrong with a change's window, as small dicts a process and a person can read.

Each conflict is ``{"kind", "message", ...}``. The kinds:

- ``overlap``: another live change or release on the same service has a window that overlaps this one
  (``with``: its business key);
- ``blackout``: the window overlaps a blackout, global or for this service (``blackout_id``, ``reason``);
- ``outside_maintenance``: the service has maintenance windows and this window is not wholly inside one.

These are plain functions over a SQLAlchemy session so that other packages (standard change templates) can
call them. They never raise over a conflict: conflicts are warnings that the change's policy weighs.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from schedule.models import ScheduleEntry
from schedule.store import LIVE_STATES, LONGEST_WINDOW, ScheduleStore
from schedule.windows import inside_maintenance, parse_windows

OVERLAP = "overlap"
BLACKOUT = "blackout"
OUTSIDE_MAINTENANCE = "outside_maintenance"
KINDS = (OVERLAP, BLACKOUT, OUTSIDE_MAINTENANCE)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def find_conflicts(session: Session, *, service: str | None, starts_at: datetime, ends_at: datetime,
                   exclude: str | None = None) -> list[dict[str, Any]]:
    """The conflicts of a window ``[starts_at, ends_at)`` on ``service`` (``exclude``: the change's own key).

    Overlaps come first, then blackouts, then the maintenance-window rule; ``[]`` when there are none.
    """
    store = ScheduleStore(session)
    conflicts: list[dict[str, Any]] = []
    if service is not None:
        for other in store.overlapping(service, starts_at, ends_at, exclude=exclude):
            conflicts.append({
                "kind": OVERLAP, "with": other.business_key, "starts_at": other.starts_at.isoformat(),
                "ends_at": other.ends_at.isoformat(),
                "message": f"Overlaps {other.business_key} ({other.title}) on {service}, "
                           f"{_stamp(other.starts_at)} to {_stamp(other.ends_at)}."})
    for blackout in store.blackouts(starts_at, ends_at, service=service):
        scope = f"on {blackout.service}" if blackout.service else "on every service"
        conflicts.append({
            "kind": BLACKOUT, "blackout_id": blackout.id, "reason": blackout.reason,
            "starts_at": blackout.starts_at.isoformat(), "ends_at": blackout.ends_at.isoformat(),
            "message": f"Inside a blackout {scope} from {_stamp(blackout.starts_at)} to "
                       f"{_stamp(blackout.ends_at)}: {blackout.reason}"})
    row = store.service(service) if service is not None else None
    if row is not None and row.maintenance_windows:
        windows = parse_windows(row.maintenance_windows)
        if not inside_maintenance(windows, starts_at, ends_at):
            described = "; ".join(window.describe() for window in windows)
            conflicts.append({
                "kind": OUTSIDE_MAINTENANCE, "windows": list(row.maintenance_windows),
                "message": f"Outside the maintenance windows of {service} ({described})."})
    return conflicts


def conflict_kinds(conflicts: list[dict[str, Any]]) -> list[str]:
    """The distinct kinds among ``conflicts``, in the order of ``KINDS``."""
    present = {conflict.get("kind") for conflict in conflicts}
    return [kind for kind in KINDS if kind in present]


def conflicts_among(session: Session, entries: Sequence[ScheduleEntry]) -> dict[str, list[dict[str, Any]]]:
    """The conflicts of many scheduled changes at once, for calendars: the same answers as ``find_conflicts``
    gives for each, in four queries whatever their number."""
    live = [entry for entry in entries if entry.practice == "change" and entry.state in LIVE_STATES]
    result: dict[str, list[dict[str, Any]]] = {entry.business_key: [] for entry in live}
    if not live:
        return result
    store = ScheduleStore(session)
    by_service: dict[str, list[ScheduleEntry]] = {}
    for entry in live:
        if entry.service is not None:
            by_service.setdefault(entry.service, []).append(entry)
    candidates: dict[str, list[tuple[datetime, datetime, ScheduleEntry]]] = {}
    for other in store.live_on_services(by_service, min(e.starts_at for e in live), max(e.ends_at for e in live)):
        candidates.setdefault(other.service or "", []).append((other.starts_at, other.ends_at, other))
    for service, rows in by_service.items():
        others = candidates.get(service, [])  # by start, as the query orders them
        starts = [begins for begins, _ends, _row in others]
        for entry in rows:
            entry_starts, entry_ends, key = entry.starts_at, entry.ends_at, entry.business_key
            # only those starting before this one ends can overlap it; no window is longer than LONGEST_WINDOW
            for _begins, finishes, two in others[bisect_left(starts, entry_starts - LONGEST_WINDOW):
                                                bisect_left(starts, entry_ends)]:
                if finishes <= entry_starts or two.business_key == key:
                    continue
                result[entry.business_key].append({
                    "kind": OVERLAP, "with": two.business_key, "starts_at": two.starts_at.isoformat(),
                    "ends_at": two.ends_at.isoformat(),
                    "message": f"Overlaps {two.business_key} ({two.title}) on {two.service}, "
                               f"{_stamp(two.starts_at)} to {_stamp(two.ends_at)}."})
    blackouts = store.blackouts(min(e.starts_at for e in live), max(e.ends_at for e in live))
    for entry in live:
        for blackout in blackouts:
            if blackout.service not in (None, entry.service) or not (
                    blackout.starts_at < entry.ends_at and entry.starts_at < blackout.ends_at):
                continue
            scope = f"on {blackout.service}" if blackout.service else "on every service"
            result[entry.business_key].append({
                "kind": BLACKOUT, "blackout_id": blackout.id, "reason": blackout.reason,
                "message": f"Inside a blackout {scope} from {_stamp(blackout.starts_at)} to "
                           f"{_stamp(blackout.ends_at)}: {blackout.reason}"})
    windows = {row.name: parse_windows(row.maintenance_windows) for row in store.services_named(by_service)
               if row.maintenance_windows}
    for entry in live:
        service_windows = windows.get(entry.service or "")
        if service_windows and not inside_maintenance(service_windows, entry.starts_at, entry.ends_at):
            result[entry.business_key].append({
                "kind": OUTSIDE_MAINTENANCE,
                "message": f"Outside the maintenance windows of {entry.service} "
                           f"({'; '.join(window.describe() for window in service_windows)})."})
    return result
