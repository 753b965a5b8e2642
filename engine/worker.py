"""The timer worker: fires due timers every so often until told to stop."""

from __future__ import annotations

import logging
import threading

from engine.executor import Engine

log = logging.getLogger(__name__)


TIMER_INTERVAL = 1.0  # seconds between timer passes: the worker's, the embedded thread's and the setting's default


def run_timer_loop(engine: Engine, stop: threading.Event, *, interval: float = TIMER_INTERVAL) -> None:
    """Fire due timers every ``interval`` seconds until ``stop`` is set; errors are logged, not fatal."""
    while not stop.is_set():
        try:
            fired = engine.fire_due_timers()
            if fired:
                log.info("fired the timers of %d instance(s)", fired)
        except Exception:
            log.exception("the timer pass failed; retrying in %.1f s", interval)
        stop.wait(interval)


class TimerThread:
    """The embedded server's timer worker, in a daemon thread (production runs ``flask worker`` instead)."""

    def __init__(self, engine: Engine, *, interval: float = TIMER_INTERVAL) -> None:
        self._stop = threading.Event()  # never set: the daemon thread ends with the process
        self._thread = threading.Thread(target=run_timer_loop, args=(engine, self._stop),
                                        kwargs={"interval": interval}, name="changeflow-timers", daemon=True)

    def start(self) -> None:
        self._thread.start()
