"""The threads of one worker process: on PostgreSQL the listener and the follower, which
read the database for the tenants this worker holds (and run the sweep); elsewhere the
sweeper. No request waits on any of them.

Started on the process's first request rather than at import, so that each forked
gunicorn worker gets threads of its own.
"""

from __future__ import annotations

import logging
import os
import threading

from ..config import Settings
from ..storage.notifier import Listener
from .follower import Follower
from .replica import Replica

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = 1.0  # seconds before a failed sweep is tried again


class Background:
    def __init__(self, app, replica: Replica, settings: Settings):
        self._app = app
        self._replica = replica
        self._settings = settings
        self._pid: int | None = None
        self._listener: Listener | None = None
        self._follower: Follower | None = None
        self._sweeper: Sweeper | None = None

    def ensure_started(self) -> None:
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        settings = self._settings
        if settings.listen and settings.database_url.startswith("postgresql"):
            self._follower = Follower(self._app, self._replica, settings.sync_interval)
            self._follower.start()
            self._listener = Listener(settings.database_url, self._replica.announce,
                                      self._replica.recheck)
            self._listener.start()
        else:
            self._sweeper = Sweeper(self._app, self._replica)
            self._sweeper.start()

    def stop(self) -> None:
        for part in (self._listener, self._follower, self._sweeper):
            if part is not None:
                part.stop()
        self._listener = self._follower = self._sweeper = None
        self._pid = None

    @property
    def listening(self) -> bool:
        return self._listener is not None and self._listener.connected


class Sweeper:
    """Without a follower: runs the sweep (Replica.sweep) when a grant ended in this
    worker's copy, on its own thread, so that no check ever writes."""

    def __init__(self, app, replica: Replica):
        self._app = app
        self._replica = replica
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._replica.on_news = self._wake.set
        self._thread = threading.Thread(target=self._run, name="authz-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._replica.on_news = lambda: None

    def _run(self) -> None:
        timeout: float | None = None
        while not self._stop.is_set():
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                with self._app.app_context():
                    self._replica.sweep()
                timeout = None
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.warning("sweep of ended grants failed; trying again", exc_info=True)
                timeout = RETRY_AFTER_FAILURE
