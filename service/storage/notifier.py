"""Change propagation: PostgreSQL LISTEN/NOTIFY wakes every worker after a commit.

A notification only says "tenant T has revision N" (payload "T N"); a worker that holds T
then reads T's ledger itself, and one that does not ignores it. Lost notifications cost
nothing but time: each worker also polls the heads of the tenants it holds at least every
AUTHZ_SYNC_INTERVAL seconds before answering, and after a reconnect it catches up at once.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

import psycopg
from sqlalchemy import Text, cast, func, literal
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "authz_policy"
APPLICATION_NAME = "authz-listener"


def notify_sql(tenant: str, revision):
    """The SQL expression announcing the tenant's `revision` (a column) on CHANNEL, for use
    inside the writing transaction: PostgreSQL delivers it only if the commit succeeds."""
    return func.pg_notify(CHANNEL, literal(tenant + " ") + cast(revision, Text))


def parse(payload: str) -> tuple[str, int]:
    tenant, _, revision = payload.partition(" ")
    return tenant, int(revision)


def libpq_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """A daemon thread holding one LISTEN connection, reconnecting with backoff."""

    def __init__(self, url: str, on_revision: Callable[[str, int], None],
                 on_reconnect: Callable[[], None]):
        self._dsn = libpq_dsn(url)
        self._on_revision = on_revision
        self._on_reconnect = on_reconnect
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="authz-listener",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=3,
                                     application_name=APPLICATION_NAME) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected = True
                    backoff = 0.05
                    self._on_reconnect()  # whatever was committed while we were away
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=1.0):
                            self._on_revision(*parse(notice.payload))
            except Exception:  # noqa: BLE001 - any failure: reconnect; polling covers the gap
                if not self._stop.is_set():
                    log.warning("policy listener lost its connection; reconnecting",
                                exc_info=True)
            self.connected = False
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 2.0)


class SqliteWatcher:
    """What NOTIFY is on PostgreSQL, for the embedded SQLite default: `PRAGMA data_version`
    on a connection of its own changes whenever any other connection (another worker's
    write, or this worker's own) has committed. A few microseconds and no table read, so
    a worker need not read the database before every /check to see every write at once.
    Opened in each process (gunicorn forks after the app is built)."""

    def __init__(self, path: Path):
        self._path = path
        self._connection: sqlite3.Connection | None = None  # this process's own
        this = weakref.ref(self)  # (a forked worker opens its own: not a getpid per check)
        os.register_at_fork(after_in_child=lambda: (it := this()) and it._forked())
        self._version: int | None = None

    def _forked(self) -> None:
        self._connection = None

    def changed(self) -> bool:
        """Whether something was committed since the last call (True on the first call,
        and whenever the file cannot be asked: then look at the database)."""
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True,
                                                   check_same_thread=False)
                self._version = None
            version = self._connection.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            self._connection = None
            return True
        changed, self._version = version != self._version, version
        return changed
