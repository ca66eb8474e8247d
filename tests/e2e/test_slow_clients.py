"""Idle and slow connections cannot stop the service (issues 16 and 28). Its worker reads
requests on an event loop (service/api/asgi.py), so they hold nothing, with or without a
proxy in front. gunicorn's sync workers (AUTHZ_WORKER=sync) read a request with no time
limit, so two connections that never finish one hold both workers and every tenant's
/check hangs: behind HAProxy (deploy/haproxy.cfg) a worker only ever sees whole requests."""

from __future__ import annotations

import socket
import statistics
import time

import pytest
import requests

from harness.servers import HAProxy, idle_and_slow_clients, seeded_sqlite_instance

from ..support import ACME_CHECK

pytestmark = pytest.mark.slow

CHECK = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}
HEADERS = {"Authorization": f"Bearer {ACME_CHECK}"}


def _hold(port: int, count: int) -> list[socket.socket]:
    """`count` connections: half stop in the middle of the request head, half announce a
    body and send one byte of it."""
    held = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        if i % 2:
            s.sendall(b"POST /check HTTP/1.1\r\nHost: x\r\n")
        else:
            s.sendall(b"POST /check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{")
        held.append(s)
    return held


def _checks_p99(url: str, count: int = 300) -> float:
    times = []
    with requests.Session() as session:
        for _ in range(count):
            start = time.perf_counter()
            answer = session.post(url + "/check", json=CHECK, headers=HEADERS, timeout=10)
            times.append(time.perf_counter() - start)
            assert answer.status_code == 200 and answer.json()["allowed"] is True
    return statistics.quantiles(times, n=100)[98]


def test_idle_and_slow_clients_leave_checks_fast_without_a_proxy(tmp_path):
    """200 connections that never send a byte and 50 that send a request one byte a
    second, straight to the service: other callers' checks stay fast. (bench/slow_clients.py
    measures the figure; here it is bounded loosely, on a shared machine.)"""
    instance = seeded_sqlite_instance(tmp_path, workers=2)
    try:
        with idle_and_slow_clients(instance.port):
            p99 = _checks_p99(instance.url)
        assert p99 < 0.100, f"/check p99 {p99 * 1000:.1f} ms beside 250 idle or slow clients"
    finally:
        instance.stop()


def test_fifty_idle_or_slow_connections_behind_the_proxy(tmp_path):
    instance = seeded_sqlite_instance(tmp_path, workers=2)
    proxy = HAProxy(instance, workers=2)
    held: list[socket.socket] = []
    try:
        held = _hold(proxy.port, 50)
        time.sleep(0.5)  # they are all in place before anyone else asks
        p99 = _checks_p99(proxy.url)
        assert p99 < 0.100, f"/check p99 {p99 * 1000:.1f} ms with 50 idle connections"
    finally:
        for s in held:
            s.close()
        proxy.stop()
        instance.stop()


def test_the_sync_worker_needs_the_proxy(tmp_path):
    """Why AUTHZ_WORKER=sync is served behind HAProxy only: the defect is real there."""
    instance = seeded_sqlite_instance(tmp_path, workers=2, AUTHZ_WORKER="sync")
    held: list[socket.socket] = []
    try:
        assert _checks_p99(instance.url, 20) < 1
        held = _hold(instance.port, 2)
        with pytest.raises(requests.Timeout):
            requests.post(instance.url + "/check", json=CHECK, headers=HEADERS, timeout=1.5)
    finally:
        for s in held:
            s.close()
        instance.stop()
