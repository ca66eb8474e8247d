"""The threads of one worker process: on PostgreSQL the listener and the follower, which
read the database for the tenants this worker holds (and run the sweep); elsewhere the
sweeper. No request waits on any of them.

Started on the process's first request rather than at import, so that each forked
gunicorn worker gets threads of its own.
"""

from __future__ import annotations

import logging
import os
import weakref

from ..config import Settings
from ..storage.notifier import Listener
from .follower import Follower, Woken
from .replica import Replica

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = 1.0  # seconds before a failed sweep is tried again


class Background:
    def __init__(self, app, replica: Replica, settings: Settings):
        self._app = app
        self._replica = replica
        self._settings = settings
        self._started = False  # in this process (a forked worker starts its own)
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (it := this()) and it._forked())
        self._listener: Listener | None = None
        self._follower: Follower | None = None
        self._sweeper: Sweeper | None = None

    def _forked(self) -> None:
        self._started = False

    def ensure_started(self) -> None:
        if self._started:  # (on every check: a flag, not a getpid call)
            return
        self._started = True
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
        self._started = False

    @property
    def listening(self) -> bool:
        return self._listener is not None and self._listener.connected


class Sweeper(Woken):
    """Without a follower: runs the sweep (Replica.sweep) when a grant ended in this
    worker's copy, on its own thread, so that no check ever writes. A failed sweep is
    tried again a second later (the grant stays withdrawn in memory meanwhile)."""

    name = "authz-sweeper"

    def __init__(self, app, replica: Replica):
        super().__init__(app, replica, None, retry=RETRY_AFTER_FAILURE)

    def work(self) -> None:
        self._replica.sweep()
