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


class Follower:
    def __init__(self, app, replica: Replica, interval: float):
        self._app = app
        self._replica = replica
        self._interval = max(interval, 0.05)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._replica.on_news = self._wake.set
        self._replica.following = True
        self._thread = threading.Thread(target=self._run, name="authz-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._replica.following = False
        self._replica.on_news = lambda: None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                with self._app.app_context():
                    self._replica.follow()
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("policy follower failed; trying again")
                self._stop.wait(0.5)
            self._wake.wait(self._interval)
