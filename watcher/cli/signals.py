"""`watcher run`'s process edge: SIGTERM, SIGINT and SIGHUP become the daemon's stop event, and exit codes.

The handler only notes the signal: logging or setting an Event inside a handler can deadlock on a
lock the interrupted main thread holds. The main thread acts on the notes while the daemon runs in
a thread of its own.

One stop is one stop: supervisors and `timeout` often signal the whole process group, so the same
request arrives two or three times within a millisecond. A repeat within `REPEAT_GRACE` seconds of
the first is that same request; only a signal after it forces the exit (128 + the signal number).

Why `os._exit` at all: a job that outlives `schedule.shutdown_timeout` keeps running in a scheduler
worker thread, and a normal interpreter exit joins those threads (concurrent.futures does so at
exit), which would wait for the very job we gave up on. Its writes are one uncommitted
transaction, so leaving without it loses nothing that was stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from watcher.config import format_duration

log = logging.getLogger("watcher.daemon.scheduler")  # the daemon's lines, as before the edge had a module of its own
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # SIGHUP: the terminal went away; stop cleanly
REPEAT_GRACE = 2.0  # seconds: a repeat signal this soon after the first is the same stop request
WAKE = 0.1  # seconds: how often the main thread looks at noted signals


class StopSignals:
    """Turns stop signals into `stop.set()`; a late repeat exits at once."""

    def __init__(self, stop: threading.Event, shutdown_timeout: dt.timedelta) -> None:
        self.stop, self.shutdown_timeout = stop, shutdown_timeout
        self.requested_at: float | None = None  # monotonic time of the first stop signal
        self.noted: list[tuple[int, float]] = []  # noted by the handler, acted on by the main thread

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, _frame) -> None:
        """Only note it (see the module's docstring)."""
        self.noted.append((signum, time.monotonic()))

    def take(self) -> None:
        """Act on noted signals in the main thread: the first starts the stop; a repeat after the grace forces it."""
        while self.noted:
            signum, at = self.noted.pop(0)
            name = signal.Signals(signum).name
            if self.requested_at is None:
                self.requested_at = at
                log.info("received %s: no new jobs; the running job gets up to %s to finish (a signal %gs or more "
                         "later exits at once)", name, format_duration(self.shutdown_timeout), REPEAT_GRACE)
                self.stop.set()
            elif at - self.requested_at < REPEAT_GRACE:
                log.debug("received %s again within %gs: the same stop request", name, REPEAT_GRACE)
            else:
                log.warning("received %s again: exiting now", name)
                hard_exit(128 + signum)


def serve(run: Callable[[], object], signals: StopSignals) -> object:
    """Run the daemon in a thread while the main thread watches the signals; return what `run` returned."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = run()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, raised there
            outcome["error"] = exc

    signals.install()
    thread = threading.Thread(target=target, name="daemon", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(WAKE)
        signals.take()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")


def hard_exit(code: int) -> NoReturn:
    """Leave now, without waiting for worker threads; flush the log first so the reason is visible."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    os._exit(code)
