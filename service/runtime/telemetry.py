"""What operators see: Prometheus metrics, and one JSON log line per request.

Metrics are per process; under gunicorn, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR
at a fresh directory so that /metrics, whichever worker answers, sums every worker's
counters and shows each worker's revision (labelled by pid).

The request log is written by the outermost WSGI layer, so it sees every request,
including the /check requests answered before Flask dispatches. Its tenant and route come
from whichever layer answered (environ keys below). It never logs headers or bodies, so
no key or token can reach a log line.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

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


def count_decisions(allowed: int, denied: int) -> None:
    if allowed:
        _ALLOWED.inc(allowed)
    if denied:
        _DENIED.inc(denied)


def render(replica) -> tuple[bytes, str]:
    """The Prometheus text page, with this worker's replica gauges refreshed first."""
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


def observe_check(route: str, seconds: float) -> None:
    _CHECK_SECONDS[(route,)].observe(seconds)


class RequestLog:
    """WSGI: accept or make a request id, return it, count and log the request.

    The line is written straight to `stream` (stderr by default), not through the logging
    module: on the /check hot path logging's per-record work cost more than the decision.
    """

    def __init__(self, wsgi, enabled: bool = True, stream=None):
        self.wsgi = wsgi
        self.enabled = enabled
        self.stream = stream

    def write(self, line: str) -> None:
        (self.stream or sys.stderr).write(line + "\n")

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else os.urandom(16).hex()
        environ["HTTP_X_REQUEST_ID"] = request_id
        status_code = [0]

        def respond(status, headers, exc_info=None):
            status_code[0] = int(status[:3])
            headers.append(("X-Request-ID", request_id))
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi(environ, respond)
        finally:
            route = environ.get(ROUTE) or "unmatched"
            _REQUESTS[(route, str(status_code[0]))].inc()
            if self.enabled:
                # json.dumps, not an f-string: the tenant may come from the URL as typed.
                self.write(json.dumps({
                    "request_id": request_id, "method": environ.get("REQUEST_METHOD"),
                    "route": route, "status": status_code[0],
                    "tenant": environ.get(TENANT),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                }, separators=(",", ":")))
