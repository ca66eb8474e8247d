"""Counts kept in memory on the request path reach the metrics exactly as if each had
been observed there (runtime/telemetry.py: the flush writes whole buckets at once)."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram

from service.runtime import telemetry

from ..support import ACME_CHECK, bearer


def _samples(metric, route: str | None = None) -> dict:
    return {(s.name, s.labels.get("le")): s.value for family in metric.collect()
            for s in family.samples if route is None or s.labels.get("route") == route
            if not s.name.endswith("_created")}


def test_a_flush_writes_the_buckets_observe_would_have():
    route = f"/tally-test-{random.randrange(10**9)}"  # a series of this test's own
    direct = Histogram("direct", "as observed one by one", ["route"],
                       buckets=telemetry.CHECK_SECONDS._upper_bounds[:-1],
                       registry=CollectorRegistry()).labels(route)
    rng = random.Random(4)
    seconds = [rng.choice((0.0001, 0.00025, 0.001, 0.3, 2.0)) * rng.choice((0.5, 1, 1.5))
               for _ in range(500)]
    for value in seconds:
        telemetry.observe_check(route, value)
        direct.observe(value)
    telemetry.flush()
    ours = telemetry._CHECK_SECONDS[(route,)]
    assert {(n.replace("authz_check_duration_seconds", "direct"), le): v
            for (n, le), v in _samples(ours).items()} == _samples(direct)


def test_decisions_and_requests_counted_off_the_path_show_on_metrics(client):
    page = client.get("/metrics").get_data(as_text=True)

    def allowed(text: str) -> float:
        return sum(float(line.split()[-1]) for line in text.splitlines()
                   if line.startswith('authz_decisions_total{result="allow"}'))

    for _ in range(7):
        client.post("/check", headers=bearer(ACME_CHECK), json={
            "subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"})
    # /metrics flushes the answering worker's counts before it renders
    assert allowed(client.get("/metrics").get_data(as_text=True)) - allowed(page) == 7


def test_request_ids_made_in_forked_workers_differ():
    """gunicorn forks the workers: each must make ids of its own, never its parent's
    sequence again (two workers' lines would then share ids)."""
    import os

    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the forked worker: its next three ids, then gone
        try:
            os.write(write, ",".join(telemetry.RequestLog.begin({})[0]
                                     for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(write)
    ours = [telemetry.RequestLog.begin({})[0] for _ in range(3)]
    theirs = os.read(read, 4096).decode().split(",")
    os.waitpid(child, 0)
    os.close(read)
    assert len(theirs) == 3 and not set(ours) & set(theirs)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ours + theirs)


def test_flushes_at_once_write_each_line_once_in_order():
    """The flush thread, a /metrics read and the exit each flush: at once, they once raced
    between a queue's emptiness and its pop (an IndexError that killed `make bench`'s
    request_costs), and could interleave their lines."""
    import io
    import threading
    import time
    from collections import deque

    class Slow(deque):
        def __len__(self):  # (widens the window between the check and the pop)
            time.sleep(0.001)
            return super().__len__()

    stream = io.StringIO()
    log = telemetry.RequestLog(None, stream=stream)
    log._queued = Slow((f"id{n:03d}", "POST", "/check", 200, "acme", 0.001)
                       for n in range(200))
    failures = []

    def flush():
        try:
            telemetry.flush()
        except Exception as exc:  # noqa: BLE001 - what a flusher met is the finding
            failures.append(exc)

    threads = [threading.Thread(target=flush) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    ids = [line.split('"')[3] for line in stream.getvalue().splitlines()]
    assert ids == [f"id{n:03d}" for n in range(200)]
