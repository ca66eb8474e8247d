"""`python -m bench.slow_clients`: /check's latency beside 200 idle connections and 50
clients sending a request one byte a second, straight to the service (no HAProxy), as
`make run` serves it (issue 28: p99 under 10 ms). One caller asks 2,000 checks in turn on
one connection; the table gives p50 and p99, with and without the idle and slow clients,
in the same run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import requests

from harness import ACME_CHECK
from harness.servers import idle_and_slow_clients, seeded_sqlite_instance

CHECK = {"subject": "alice", "store": "amazon-us", "object": "orders", "action": "view"}


def latencies(url: str, count: int = 2000) -> list[float]:
    times = []
    with requests.Session() as session:
        for _ in range(count):
            started = time.perf_counter()
            answer = session.post(url + "/check", json=CHECK, timeout=10,
                                  headers={"Authorization": f"Bearer {ACME_CHECK}"})
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200 and answer.json()["allowed"] is True
    return times


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        instance = seeded_sqlite_instance(Path(scratch))
        try:
            latencies(instance.url, 200)  # warm
            rows.append(("alone", latencies(instance.url)))
            with idle_and_slow_clients(instance.port):
                rows.append(("beside 200 idle and 50 one-byte-a-second clients",
                             latencies(instance.url)))
        finally:
            instance.stop()
    print("\n| /check, one caller, 2,000 in turn | p50 ms | p99 ms |")
    print("|---|---:|---:|")
    for name, times in rows:
        q = statistics.quantiles(times, n=100)
        print(f"| {name} | {q[49] * 1000:.2f} | {q[98] * 1000:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
