"""Calendar feeds (iCalendar, RFC 5545) of the forward schedule, for Outlook and Google Calendar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from icalendar import Calendar, Event

from schedule.views import EntryView

PRODUCT = "-//Changeflow//Change schedule//EN"


def calendar_feed(name: str, entries: Sequence[EntryView], *, now: datetime, host: str = "changeflow") -> bytes:
    """One VEVENT per scheduled change or release; conflicts go into the description."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for entry in entries:
        event = Event()
        event.add("uid", f"{entry.business_key}@{host}")
        event.add("dtstamp", now)
        event.add("dtstart", entry.starts_at)
        event.add("dtend", entry.ends_at)
        where = f" on {entry.service}" if entry.service else ""
        event.add("summary", f"{entry.business_key} {entry.title}{where} [{entry.state}]")
        lines = [f"{entry.business_key}: {entry.title}", f"State: {entry.state}", f"Requested by {entry.requested_by}"]
        if entry.delivered_by:
            lines.append(f"Delivered by {entry.delivered_by} ({entry.outcome})")
        lines += [f"Conflict: {conflict['message']}" for conflict in entry.conflicts]
        event.add("description", "\n".join(lines))
        event.add("status", "TENTATIVE" if entry.state == "requested" else "CONFIRMED")
        if entry.service:
            event.add("location", entry.service)
        calendar.add_component(event)
    feed: bytes = calendar.to_ical()
    return feed
