"""What operators see: Prometheus metrics, and one JSON log line per request.

Metrics are per process; under gunicorn, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR
at a fresh directory so that /metrics, whichever worker answers, sums every worker's
counters and shows each worker's revision (labelled by pid).

The request log is written by the outermost WSGI layer, so it sees every request,
including the /check requests answered before Flask dispatches. Its tenant and route come
from whichever layer answered (environ keys below). It never logs headers or bodies, so
no key or token can reach a log line.

Neither is paid for on the request path (issue 28: each per-request cost below a
decision's; `python -m bench.request_costs`): a request adds its counts to this
process's memory and queues its log line's fields; a thread per process hands the counts
to the shared metric files and writes the lines every FLUSH_SECONDS, /metrics flushes its
own worker's first, and a worker that stops gracefully flushes at exit. A worker killed
outright loses at most its last FLUSH_SECONDS of counts and lines (never a decision-log
entry: runtime/decision_log.py keeps those).
"""

from __future__ import annotations

import atexit
import json
import os
import random
import re
import sys
import threading
import time
import weakref
from bisect import bisect_left
from collections import deque

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

TENANT = "authz.tenant"  # environ keys set by whichever layer answered
ROUTE = "authz.route"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

DECISIONS = Counter("authz_decisions_total", "Decisions answered", ["result"])
CHECK_SECONDS = Histogram("authz_check_duration_seconds", "Time to answer /check and "
                          "/check/batch, in the service", ["route"],
                          buckets=(.0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, 1))
BATCH_SIZE = Histogram("authz_batch_size", "Checks per /check/batch",
                       buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000))
WRITES = Counter("authz_writes_total", "Policy writes", ["result"])
DATABASE_ERRORS = Counter("authz_database_errors_total", "Failures talking to the database",
                          ["during"])
REQUESTS = Counter("authz_http_requests_total", "HTTP requests", ["route", "status"])
TENANTS_HELD = Gauge("authz_tenants_held", "Tenants this worker holds in memory",
                     multiprocess_mode="liveall")
CACHE_BYTES = Gauge("authz_tenant_cache_bytes", "What the held tenants cost, as the "
                    "AUTHZ_TENANT_CACHE_MB budget counts it", multiprocess_mode="liveall")
REVISION_LAG = Gauge("authz_revision_lag", "Revisions announced for held tenants and not "
                     "applied yet, summed", multiprocess_mode="liveall")
TENANT_LOADS = Counter("authz_tenant_loads_total", "Tenants loaded on demand")
TENANT_EVICTIONS = Counter("authz_tenant_evictions_total",
                           "Tenants dropped to keep within the memory budget")
POLICY_AGE = Gauge("authz_policy_age_seconds", "Seconds since this worker last confirmed "
                   "its policy is current", multiprocess_mode="liveall")


# Series that exist from the start, at 0, so a dashboard sees "no errors" rather than nothing.
for _result in ("allow", "deny"):
    DECISIONS.labels(_result)
for _during in ("catch_up", "write", "request"):
    DATABASE_ERRORS.labels(_during)


_ALLOWED, _DENIED = DECISIONS.labels("allow"), DECISIONS.labels("deny")


FLUSH_SECONDS = 0.05  # (short: a flush holds the interpreter, so it comes in small bursts)


class _Tally:
    """What this process counted since the last flush, in plain memory: a request adds to
    it under one lock; flush() hands it to the metrics (their shared files) at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bounds = CHECK_SECONDS._upper_bounds  # the histogram's own, +Inf last
        self.decisions = [0, 0]  # allowed, denied
        self.requests: dict[tuple[str, str], int] = {}  # (route, status) -> count
        self.checks: dict[str, list] = {}  # route -> each bucket's count, then the sum

    def take(self) -> tuple[list[int], dict, dict]:
        """What was counted since the last take (the caller holds the lock); zero again."""
        taken = self.decisions, self.requests, self.checks
        self.decisions, self.requests, self.checks = [0, 0], {}, {}
        return taken


_TALLY = _Tally()
_writers: weakref.WeakSet = weakref.WeakSet()  # request logs whose lines each flush writes
_flushing = [False]  # this process's flush thread runs (a forked worker starts its own)
# One flush at a time (the thread's, a /metrics read's, the exit's): two emptying one
# queue at once raced between its check and its pop, and could write lines out of order.
_flush_lock = [threading.Lock()]


def _forked() -> None:
    _flushing[0] = False
    _flush_lock[0] = threading.Lock()  # (the parent's may be held by a thread not forked)


os.register_at_fork(after_in_child=_forked)


def _ensure_flushing() -> None:
    if _flushing[0]:  # (on every request: a flag, not a getpid call)
        return
    _flushing[0] = True
    threading.Thread(target=_flush_every, name="authz-telemetry", daemon=True).start()
    atexit.register(flush)


def _flush_every() -> None:
    tick = threading.Event()  # (never set: its wait is the interval, whatever patches sleep)
    while True:
        tick.wait(FLUSH_SECONDS)
        try:
            flush()
        except Exception:  # noqa: BLE001 - a metric or a log write failed: the next round
            pass


def flush() -> None:
    """Hand what this process counted to the metrics, and write its queued log lines."""
    with _flush_lock[0]:
        _flush()


def _flush() -> None:
    with _TALLY.lock:
        (allowed, denied), requests, checks = _TALLY.take()
    if allowed:
        _ALLOWED.inc(allowed)
    if denied:
        _DENIED.inc(denied)
    for key, count in requests.items():
        _REQUESTS[key].inc(count)
    for route, counts in checks.items():
        # (what Histogram.observe does one observation at a time, for a whole flush)
        child = _CHECK_SECONDS[(route,)]
        for bucket, count in zip(child._buckets, counts, strict=False):
            if count:
                bucket.inc(count)
        child._sum.inc(counts[-1])
    for writer in list(_writers):
        writer.flush()


def count_decisions(allowed: int, denied: int) -> None:
    with _TALLY.lock:
        decisions = _TALLY.decisions
        decisions[0] += allowed
        decisions[1] += denied


def count_request(route: str, status: str) -> None:
    key = (route, status)
    with _TALLY.lock:
        requests = _TALLY.requests
        requests[key] = requests.get(key, 0) + 1


def observe_check(route: str, seconds: float) -> None:
    bucket = bisect_left(_TALLY.bounds, seconds)  # the first bound at or above: observe's
    with _TALLY.lock:
        counts = _TALLY.checks.get(route)
        if counts is None:
            counts = _TALLY.checks[route] = [0] * len(_TALLY.bounds) + [0.0]
        counts[bucket] += 1
        counts[-1] += seconds


def render(replica) -> tuple[bytes, str]:
    """The Prometheus text page, with this worker's counts flushed and its replica gauges
    refreshed first."""
    flush()
    TENANTS_HELD.set(replica.held_tenants())
    CACHE_BYTES.set(replica.held_bytes())
    REVISION_LAG.set(replica.lag)
    age = replica.staleness()
    POLICY_AGE.set(age if age is not None else -1)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class _Children(dict):
    """A metric's children by label values, looked up once (labels() is slow per call)."""

    def __init__(self, metric):
        super().__init__()
        self.metric = metric

    def __missing__(self, key):
        child = self[key] = self.metric.labels(*key)
        return child


_REQUESTS = _Children(REQUESTS)
_CHECK_SECONDS = _Children(CHECK_SECONDS)


class RequestLog:
    """WSGI: accept or make a request id, return it, count and log the request.

    A request queues its line's fields; the flush thread formats and writes the lines to
    `stream` (stderr by default), not through the logging module, and not on the request
    path: formatting and writing a line cost more than a decision.
    """

    def __init__(self, wsgi, enabled: bool = True, stream=None):
        self.wsgi = wsgi
        self.enabled = enabled
        self.stream = stream
        self._queued: deque[tuple] = deque()  # (append and popleft: safe across threads)
        _writers.add(self)

    def write(self, line: str) -> None:
        (self.stream or sys.stderr).write(line + "\n")

    def flush(self) -> None:
        """Write the queued lines (in the order their requests ended)."""
        queued, lines, quoted = self._queued, [], json.dumps
        while queued:
            request_id, method, route, status, tenant, seconds = queued.popleft()
            # The id is plain (begin) and status and duration numbers; the rest is quoted
            # as JSON: the tenant may come from the URL as typed. (A dict through json.dumps
            # costs three times this, in bursts that other threads wait for.)
            lines.append(f'{{"request_id":"{request_id}","method":{quoted(method)},'
                         f'"route":{quoted(route)},"status":{status},'
                         f'"tenant":{quoted(tenant)},"duration_ms":{round(seconds * 1000, 3)}}}')
        if lines:
            self.write("\n".join(lines))
            (self.stream or sys.stderr).flush()

    @staticmethod
    def begin(environ) -> tuple[str, float]:
        """(the request's id, when it began): the id taken from X-Request-ID when it is a
        plain one, else made, and put in the environ for whoever answers."""
        given = environ.get("HTTP_X_REQUEST_ID", "")
        # 128 random bits from the process's generator (reseeded in each forked worker):
        # unique enough for a request id, and a getrandom call (12 us here) is not.
        request_id = given if given and _REQUEST_ID.fullmatch(given) \
            else f"{random.getrandbits(128):032x}"
        environ["HTTP_X_REQUEST_ID"] = request_id
        return request_id, time.perf_counter()

    def end(self, environ, request_id: str, started: float, status: int) -> None:
        """Count the request, and queue its line."""
        _ensure_flushing()
        route = environ.get(ROUTE) or "unmatched"
        count_request(route, str(status))
        if self.enabled:
            self._queued.append((request_id, environ.get("REQUEST_METHOD"), route, status,
                                 environ.get(TENANT), time.perf_counter() - started))

    def __call__(self, environ, start_response):
        request_id, started = self.begin(environ)
        status_code = [0]

        def respond(status, headers, exc_info=None):
            status_code[0] = int(status[:3])
            headers.append(("X-Request-ID", request_id))
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi(environ, respond)
        finally:
            self.end(environ, request_id, started, status_code[0])
