"""The decision log (R19): every deny, every high-risk allow, a sample of the other allows.

A request only counts its decision in an in-memory table keyed by the whole decision
(request, answer, revision): the same decision repeated within one write interval is one
entry with a count and its first and last time, so a storefront asking the same question
on every page, or a client retrying a deny in a loop, costs one row a second, not one per
request. A thread per worker process writes the table every AUTHZ_DECISION_LOG_INTERVAL
seconds (and at exit) and deletes entries older than AUTHZ_DECISION_LOG_RETENTION_DAYS.
The table is bounded: past QUEUE_LIMIT distinct decisions, new ones are dropped and
counted in authz_decision_log_dropped_total. Nothing about the deciding rule is computed
on the hot path: reading an entry works it out from the policy at the entry's revision
(ledger replay), which is exact.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..domain import catalogue, reasons
from ..storage import apps_store
from ..storage.models import DecisionLogEntry as Row
from ..storage.models import db

log = logging.getLogger(__name__)

DROPPED = Counter("authz_decision_log_dropped_total",
                  "Decisions not logged because the in-memory table was full")
WRITTEN = Counter("authz_decision_log_written_total", "Decision-log entries written")
HIGH_RISK = frozenset((p.area, p.action) for p in catalogue.PERMISSIONS if p.high_risk)
# Seconds between two reads of the apps' high-risk permissions (R21) by the writer: a
# permission newly marked so is sampled like any other until then.
APP_RISK_EVERY = 30.0
# Distinct decisions held between two writes, per worker (~400 bytes each). A second's
# worth at the measured worst case (all-distinct denies, make bench-decision-log) with room
# for a few seconds of database trouble; beyond it entries are dropped and counted.
QUEUE_LIMIT = 20_000
PRUNE_EVERY = 600.0  # seconds between retention sweeps
COLUMNS = ("at", "last_at", "count", "tenant", "subject", "store", "permission", "product",
           "second_factor", "allowed", "revision", "sampled", "amount", "approval", "reason")
GRANTED = reasons.GRANTED


class DecisionLog:
    def __init__(self, app, settings: Settings):
        self.app = app
        self.enabled = settings.decision_log
        self.rate = settings.decision_log_sample
        self.interval = settings.decision_log_interval
        self.retention = timedelta(days=settings.decision_log_retention_days)
        self._pending: dict[tuple, list] = {}  # decision -> [first time, last time, count]
        self._lock = threading.Lock()  # the writer swaps the table while requests add
        self._writing = False  # this process has its writer thread
        self._pruned_at: float | None = None  # monotonic time of the last sweep (None: never)
        # Always kept when allowed: the built-in high-risk permissions and the apps'.
        self.high_risk: frozenset = HIGH_RISK
        self._risk_read_at: float | None = None  # monotonic time of the apps' last read
        this = weakref.ref(self)  # (an app that is gone needs no hook)
        os.register_at_fork(after_in_child=lambda: (log := this()) and log._forked())

    def _forked(self) -> None:
        """A new worker: its own (empty) table, lock and writer; what the parent held is
        the parent's to write."""
        self._pending, self._lock, self._writing = {}, threading.Lock(), False

    def keeps(self, request: tuple, code: str) -> bool:
        """Every deny is kept, every allow of a high-risk permission or with an amount or
        an approval, and a sample of the other allows."""
        return code is not GRANTED or request[3:5] in self.high_risk or bool(request[7]) \
            or bool(request[8]) or random.random() < self.rate

    def record(self, request: tuple, code: str, revision: int) -> None:
        """On the request path: decide whether to keep it, and count it. `request` is the
        CheckRequest (tenant, subject, store, area, action, second_factor, product, amount,
        approval), `code` its answer (domain/reasons.py)."""
        if self.enabled and self.keeps(request, code):
            self._count(((request, code, revision),))

    def record_many(self, requests: Sequence[tuple], answers: Sequence[str],
                    revision_of: Callable[[str], int]) -> None:
        """record() for each request and its answer (a batch), under one lock;
        `revision_of(tenant)`: the revision each was decided at."""
        if not self.enabled:
            return
        keeps, revisions = self.keeps, {}
        kept = []
        for request, code in zip(requests, answers, strict=True):
            if keeps(request, code):
                tenant = request[0]
                revision = revisions.get(tenant)
                if revision is None:  # (asked once per tenant: a batch is mostly one)
                    revision = revisions[tenant] = revision_of(tenant)
                kept.append((request, code, revision))
        if kept:
            self._count(kept)

    def _count(self, kept) -> None:
        now = time.time()
        with self._lock:
            pending = self._pending
            for key in kept:
                seen = pending.get(key)
                if seen is not None:
                    seen[1] = now
                    seen[2] += 1
                elif len(pending) < QUEUE_LIMIT:
                    pending[key] = [now, now, 1]
                else:
                    DROPPED.inc()
        if not self._writing and self.interval > 0:
            self._start()

    def _start(self) -> None:
        """One writer thread per process, started by its first entry."""
        self._writing = True
        threading.Thread(target=self._run, name="authz-decision-log", daemon=True).start()
        atexit.register(self._last_flush)  # a worker stopped gracefully keeps its last second

    def _last_flush(self) -> None:
        try:
            with self.app.app_context():
                self.flush()
        except Exception:  # noqa: BLE001 - exiting anyway; say what was lost
            log.warning("decision log: %d entries not written at exit", len(self._pending))

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                with self.app.app_context():
                    self.flush()
            except Exception:  # noqa: BLE001 - keep the thread; the next round retries
                log.warning("decision log write failed", exc_info=True)

    def flush(self) -> int:
        """Write what is pending (and prune old entries now and then); returns how many
        entries were written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if pending:
            try:
                with db.engine.begin() as connection:
                    _write(connection, pending, self.high_risk)
            except SQLAlchemyError:
                self._put_back(pending)  # try again next round
                raise
            WRITTEN.inc(len(pending))
        if self._risk_read_at is None or time.monotonic() - self._risk_read_at > APP_RISK_EVERY:
            self._risk_read_at = time.monotonic()
            self.high_risk = HIGH_RISK | apps_store.high_risk()
        # never compare with 0.0: the monotonic clock starts near the host's uptime
        if self._pruned_at is None or time.monotonic() - self._pruned_at > PRUNE_EVERY:
            self._pruned_at = time.monotonic()
            with db.engine.begin() as connection:
                connection.execute(delete(Row).where(
                    Row.last_at < datetime.now(UTC) - self.retention))
        return len(pending)

    def _put_back(self, pending: dict[tuple, list]) -> None:
        with self._lock:
            for key, (first, last, count) in pending.items():
                seen = self._pending.get(key)
                if seen is None:
                    self._pending[key] = [first, last, count]
                else:
                    seen[0], seen[2] = first, seen[2] + count


def _rows(pending: dict[tuple, list], high_risk: frozenset):
    """(first, last, count, tenant, subject, store, permission, product, second_factor,
    allowed, revision, sampled, amount, approval, reason) for each pending entry."""
    for ((tenant, subject, store, area, action, mfa, product, amount, approval), code,
         revision), (first, last, count) in pending.items():
        allowed = code == GRANTED
        yield (first, last, count, tenant, subject, store, f"{area}:{action}", product, mfa,
               allowed, revision, allowed and (area, action) not in high_risk
               and not amount and not approval, amount, approval, code)


def _write(connection, pending: dict[tuple, list], high_risk: frozenset = HIGH_RISK) -> None:
    """All pending entries in one statement. This runs in the worker beside its requests
    and holds the GIL while it builds rows, so it uses the driver directly: a SQLAlchemy
    insert cost ~40 µs of Python a row, six decisions' worth; COPY text costs a few."""
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        seconds: dict[int, str] = {}  # a batch spans a second or two: format each once

        def stamp(t: float) -> str:
            whole = int(t)
            text = seconds.get(whole)
            if text is None:
                text = seconds[whole] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(whole))
            return f"{text}.{int((t - whole) * 1e6):06d}+00"

        # Every value is a validated identifier, a number or a flag: no tab, newline or
        # backslash, so the COPY text needs no escaping.
        text = "".join(
            f"{stamp(first)}\t{stamp(last)}\t{count}\t"
            f"{tenant}\t{subject}\t{store}\t{permission}\t{product}\t"
            f"{'t' if mfa else 'f'}\t{'t' if allowed else 'f'}\t{revision}\t"
            f"{'t' if sampled else 'f'}\t{amount}\t{approval}\t{code}\n"
            for (first, last, count, tenant, subject, store, permission, product, mfa,
                 allowed, revision, sampled, amount, approval, code)
            in _rows(pending, high_risk))
        with raw.cursor() as cursor, cursor.copy(
                f"COPY decision_log ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            copy.write(text)
    else:
        at = Row.__table__.c.at.type.dialect_impl(connection.dialect).bind_processor(
            connection.dialect)
        raw.executemany(
            f"INSERT INTO decision_log ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(COLUMNS))})",
            [(at(datetime.fromtimestamp(first, UTC)), at(datetime.fromtimestamp(last, UTC)),
              *rest)
             for first, last, *rest in _rows(pending, high_risk)])
