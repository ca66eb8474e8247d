"""`python -m bench.tracing` (and the end of `make bench`): what a /check costs with
tracing off (the default: no span is made, the request path is not wrapped) and on (every
span made and handed to an exporter that drops it: the cost of tracing, not of the
network), in process through the WSGI stack, interleaved round by round on one seeded
SQLite file. Prints a table; ratios are against tracing off measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from werkzeug.test import Client

from harness import ACME_CHECK
from harness.servers import init_database
from service import create_app
from service.runtime import tracing

CHECK = json.dumps({"subject": "alice", "store": "amazon-us", "object": "orders",
                    "action": "view"})
EVALUATION = json.dumps({"subject": {"type": "user", "id": "alice"},
                         "action": {"name": "orders:view"},
                         "resource": {"type": "store", "id": "amazon-us"}})


class _Dropped:
    """A span exporter that keeps nothing (the spans are still made and ended)."""

    def export(self, spans):
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _provider():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Dropped()))
    return provider


def _client(url: str) -> Client:
    """A worker's WSGI stack, traced when tracing is on as it is built."""
    app = create_app({"AUTHZ_DATABASE_URL": url, "AUTHZ_REQUEST_LOG": False,
                      "AUTHZ_DECISION_LOG": False, "AUTHZ_LISTEN": False})
    return Client(app.wsgi_app)


def _per_request(client: Client, path: str, body: str, n: int) -> float:
    headers = {"Authorization": f"Bearer {ACME_CHECK}",
               "Content-Type": "application/json"}
    for _ in range(200):  # the tenant loaded, the key known
        client.post(path, data=body, headers=headers)
    started = time.perf_counter()
    for _ in range(n):
        client.post(path, data=body, headers=headers)
    return (time.perf_counter() - started) / n * 1e6


def measure(requests: int = 3000, rounds: int = 5) -> dict:
    provider = _provider()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'authz.db'}"
        init_database(url)
        clients = {}
        for traced in (False, True):
            tracing.use(provider if traced else None)
            clients[traced] = _client(url)
        results: dict = {(t, p): [] for t in (False, True) for p in ("/check", "evaluation")}
        try:
            for _ in range(rounds):
                for traced in (False, True):
                    tracing.use(provider if traced else None)
                    results[(traced, "/check")].append(
                        _per_request(clients[traced], "/check", CHECK, requests))
                    results[(traced, "evaluation")].append(_per_request(
                        clients[traced], "/access/v1/evaluation", EVALUATION, requests))
        finally:
            tracing.use(None)
    return {f"{'on' if t else 'off'} {p}": statistics.median(v)
            for (t, p), v in results.items()}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    r = measure(args.requests, args.rounds)
    print(f"in process (WSGI stack, werkzeug client), median of {args.rounds} interleaved "
          f"rounds of {args.requests:,} requests")
    print("| request | tracing off µs | tracing on µs | on / off |")
    print("|---|---:|---:|---:|")
    for path in ("/check", "evaluation"):
        off, on = r[f"off {path}"], r[f"on {path}"]
        name = "/access/v1/evaluation" if path == "evaluation" else path
        print(f"| {name} | {off:.1f} | {on:.1f} | {on / off:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
