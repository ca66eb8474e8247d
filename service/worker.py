"""gunicorn's worker class for the service (gunicorn.conf.py; AUTHZ_WORKER=sync picks
gunicorn's own): uvicorn's worker on uvloop and httptools, serving the app gunicorn loaded
('service:create_app()') through api/asgi.AsgiService.

gunicorn's master imports this module: it imports nothing of the service's layers until a
worker loads the app (a metric made in the master would show as a third process on
/metrics).
"""

from __future__ import annotations

import signal
import sys

from uvicorn.workers import UvicornWorker


def _exit(signum, frame) -> None:
    sys.exit(0)


class Worker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "uvloop", "http": "httptools", "lifespan": "on"}

    def init_signals(self) -> None:
        """uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the
        handler it found: gunicorn's default would kill the process there, before its
        exit handlers write what it holds (the decision log's queue, the last counts and
        log lines). This one exits normally instead."""
        super().init_signals()
        signal.signal(signal.SIGTERM, _exit)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        from .api.asgi import AsgiService  # (in the worker, after the fork)

        self.wsgi = AsgiService(self.wsgi)
