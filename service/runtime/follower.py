"""The follower: a thread of each worker that reads the database for the tenants the worker
holds, so that no /check of a held tenant ever waits on it.

Woken by a notification (or by a grant that ended here, for the sweep), and at least every
AUTHZ_SYNC_INTERVAL seconds, it runs Replica.follow in an app context: the heads of the
held tenants, the ledger entries behind them, their keys when those changed, the sweep.
What it reads it queues; the request thread applies it, in memory, before its next
decision. A stalled or unreachable database stalls only this thread: held tenants keep
answering from their last applied revision while X-Policy-Age grows, and every query it
makes ends at the statement timeout.
"""

from __future__ import annotations

import logging
import threading

from .replica import Replica

log = logging.getLogger(__name__)


class Woken:
    """A thread of the worker that runs `work` (in an app context) when the replica has
    news for it (Replica.on_news) and at least every `interval` seconds (None: only when
    woken), and outlives any one failure of it (tried again after `retry` seconds)."""

    name = "authz-thread"

    def __init__(self, app, replica: Replica, interval: float | None, retry: float = 0.5):
        self._app = app
        self._replica = replica
        self._interval = interval
        self._retry = retry
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def work(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is not None:
            return
        self._replica.on_news = self._wake.set
        self._wake.set()  # a first round at once
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._replica.on_news = lambda: None

    def _run(self) -> None:
        timeout = self._interval
        while not self._stop.is_set():
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                with self._app.app_context():
                    self.work()
                timeout = self._interval
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.warning("%s failed; trying again", self.name, exc_info=True)
                timeout = self._retry


class Follower(Woken):
    """Reads the database for the held tenants (Replica.follow): see above."""

    name = "authz-follower"

    def __init__(self, app, replica: Replica, interval: float):
        super().__init__(app, replica, max(interval, 0.05))

    def start(self) -> None:
        self._replica.following = True
        super().start()

    def stop(self) -> None:
        super().stop()
        self._replica.following = False

    def work(self) -> None:
        self._replica.follow()
