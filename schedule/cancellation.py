"""What cancelling an instance does to the forward schedule, in the transaction of the cancel.

``app.py`` registers ``close_cancelled`` with ``Engine.when_cancelled``: the engine knows nothing of the schedule,
and the schedule learns of every cancel, from the API (``POST /api/instances/{id}/cancel``) or the web app alike.
A cancelled change leaves the schedule and the releases that carried it; a cancelled release lets its changes go,
as a release that ends undeployed does (``settle_release``), and leaves the schedule itself.
"""

from __future__ import annotations

from engine.context import CommandContext
from engine.states import EventType
from engine.views import InstanceFacts
from schedule.models import EntryState
from schedule.process_services import settle_release
from schedule.store import ScheduleStore

#: The outcome a cancelled release records on each change it carried (they implement themselves).
CANCELLED = "cancelled"


def close_cancelled(ctx: CommandContext, instance: InstanceFacts) -> None:
    """Bring the schedule in line with ``instance``, just cancelled in this command."""
    store = ScheduleStore(ctx.session)
    if store.links_of_release(instance.business_key):
        settle_release(ctx.service_context(instance.business_key, instance.practice), CANCELLED)
    entry = store.entry(instance.business_key, lock=True)
    if entry is not None and entry.state in (EntryState.REQUESTED, EntryState.AUTHORIZED):
        entry.state, entry.outcome, entry.updated_at = EntryState.WITHDRAWN, CANCELLED, ctx.now
    for link in store.active_links_of_change(instance.business_key):
        link.active = False
        release = ctx.store.instance_by_business_key(link.release_key)
        if release is None:
            continue
        ctx.store.add_event(at=ctx.now, actor=ctx.actor, type=EventType.CHANGE_UNLINKED, instance_id=release.id,
                            data={"change": instance.business_key, "reason": "cancelled",
                                  "text": f"{instance.business_key} was cancelled: {link.release_key} no longer "
                                          "carries it"})
    ctx.session.flush()
