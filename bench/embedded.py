"""The embedded default (SQLite) against PostgreSQL: /check req/s in one run (issue 18,
part 3: within 0.9x of PostgreSQL). Both serve the seed policy with gunicorn.conf.py (2
sync workers) and are loaded by the same wrk client, in alternating rounds, on the same
two cores. Prints a table; exits 1 when the ratio is under the target.

    .venv/bin/python -m bench.embedded [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from bench.run import wrk
from harness import ACME_CHECK
from harness.servers import Instance, init_database, scratch_database

BODIES = [json.dumps({"subject": s, "store": st, "object": "orders", "action": "view"})
          for s in ("alice", "bob", "carol", "owner") for st in ("amazon-us", "shopee-sg")]


def _measure(pg_url: str, args) -> tuple[dict, dict, list[str]]:
    """req/s and p99 of each database's /check, per round."""
    sqlite_url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'authz.db'}"
    for url in (sqlite_url, pg_url):
        init_database(url)
    servers = {"SQLite (embedded)": Instance(sqlite_url), "PostgreSQL": Instance(pg_url)}
    auth = {"Authorization": f"Bearer {ACME_CHECK}"}
    runs: dict[str, list[float]] = {k: [] for k in servers}
    p99: dict[str, list[float]] = {k: [] for k in servers}
    try:
        for _ in range(args.rounds):
            for label, server in servers.items():
                result = wrk(server.url + "/check", BODIES, auth, args.seconds)
                runs[label].append(result["rps"])
                p99[label].append(result["p99_ms"])
    finally:
        for server in servers.values():
            server.stop()
    return runs, p99, list(servers)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with scratch_database("authz_embedded") as pg_url:
        runs, p99, labels = _measure(pg_url, args)
    median = {k: statistics.median(v) for k, v in runs.items()}
    ratio = median["SQLite (embedded)"] / median["PostgreSQL"]
    print(f"\n/check, seed policy, {args.rounds} alternating rounds of {args.seconds} s, "
          "medians\n")
    print("| database | req/s | p99 ms | vs PostgreSQL |\n|---|---:|---:|---:|")
    for label in labels:
        print(f"| {label} | {median[label]:,.0f} | {statistics.median(p99[label]):.2f} | "
              f"{median[label] / median['PostgreSQL']:.2f}x |")
    print(f"\ntarget: SQLite >= 0.9x PostgreSQL: {'met' if ratio >= 0.9 else 'NOT met'}")
    return 0 if ratio >= 0.9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
