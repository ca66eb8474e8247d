"""How fast a revoke reaches every worker: two gunicorn instances (2 workers each) on one
PostgreSQL. Prints a table of visibility latency within the writing instance and across.

    make bench-propagation            # 200 trials
    .venv/bin/python -m bench.propagation --trials 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import requests

from harness import ACME_CHECK, ACME_OWNER
from harness.servers import Instance, init_database, scratch_database

CHECK = {"Authorization": f"Bearer {ACME_CHECK}"}
OWNER = {"Authorization": f"Bearer {ACME_OWNER}"}
GRANT = {"subject": "frank", "store": "amazon-us", "permission": "refunds:approve"}
ASK = {"subject": "frank", "store": "amazon-us", "object": "refunds", "action": "approve"}


def allowed(session: requests.Session, base: str) -> bool:
    return session.post(base + "/check", headers=CHECK, json=ASK, timeout=10).json()["allowed"]


def until(session: requests.Session, base: str, want: bool, confirm: int) -> float:
    """Seconds until `confirm` checks in a row (new connections: any worker) answer `want`."""
    start = time.perf_counter()
    streak = 0
    while streak < confirm:
        with requests.Session() as fresh:  # a new connection may land on any worker
            streak = streak + 1 if allowed(fresh, base) == want else 0
        if time.perf_counter() - start > 10:
            raise RuntimeError("change never became visible")
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    with scratch_database("authz_bench") as url:
        return _run(url, args)


def _run(url: str, args) -> int:
    instances = []
    try:
        init_database(url)
        # a long poll interval, so the figures are those of the notification path
        a = Instance(url, AUTHZ_SYNC_INTERVAL=60)
        b = Instance(url, AUTHZ_SYNC_INTERVAL=60)
        instances = [a, b]
        within, across = [], []
        with requests.Session() as writer:
            for _ in range(args.trials):
                writer.post(a.url + "/v1/tenants/acme/permissions", headers=OWNER, json=GRANT)
                until(writer, b.url, True, 1)
                writer.post(a.url + "/v1/tenants/acme/permissions/revoke", headers=OWNER,
                            json=GRANT)
                within.append(until(writer, a.url, False, 4))
                across.append(until(writer, b.url, False, 4))
        print(f"revoke visibility, {args.trials} trials, 2 instances x 2 workers, "
              "time until 4 checks in a row on new connections deny (ms)")
        print(f"{'where':<16}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}{'target p99':>12}")
        for label, values, target in (("same instance", within, 100),
                                      ("other instance", across, 1000)):
            ms = [v * 1000 for v in values]
            print(f"{label:<16}{pct(ms, 50):>8.1f}{pct(ms, 90):>8.1f}{pct(ms, 99):>8.1f}"
                  f"{max(ms):>8.1f}{target:>12}")
        return 0
    finally:
        for instance in instances:
            instance.stop()


if __name__ == "__main__":
    sys.exit(main())
