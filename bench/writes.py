"""`make bench-writes`: writes/s with 1, 2, 4 and 8 writers, each on a tenant of its own,
through the API on PostgreSQL (8 workers of the checkout's default class: gunicorn's sync
worker before issue 28, uvicorn's since), and where each write's CPU time goes.

Every figure is measured in this run. Beside writes/s it prints the CPU seconds spent
per write by the service's workers, by PostgreSQL and by this client, and how busy that
kept the machine's cores: a lone writer that keeps one core busy all the time can at most
double with two cores, however the writes are locked, so the bound is printed too
(cores / CPU per write).

The tenants are the bench platform's (bench/scale.py: 5 stores x 99 sub-accounts, about
820 rules each); the write is a sub-account's status, flipped each time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.generate import tenants
from bench.run import ADMIN, database
from harness.servers import ROOT, Instance

AUTH = {"Authorization": f"Bearer {ADMIN}"}
UNLIMITED_WRITES = "1000000/minute"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / TICKS


def postgres_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def client_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(instance: Instance, names: list[str], writers: int, seconds: float) -> dict:
    done = [0] * writers
    failed = [0] * writers
    stop = threading.Event()

    def writer(n: int) -> None:
        tenant = names[n * 7 + 3]  # a tenant of its own
        flag = True
        with requests.Session() as session:
            session.headers.update(AUTH)
            while not stop.is_set():
                answer = session.put(
                    f"{instance.url}/v1/tenants/{tenant}/subaccounts/staff-{n:02d}/status",
                    json={"disabled": flag}, timeout=30)
                if answer.status_code == 200:
                    done[n] += 1
                else:
                    failed[n] += 1
                flag = not flag

    workers = instance.worker_pids()
    service0, database0, client0 = (cpu_seconds(workers), cpu_seconds(postgres_pids()),
                                    client_seconds())
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    wall = time.monotonic() - started
    count = sum(done)
    service = cpu_seconds(workers) - service0
    dbase = cpu_seconds(postgres_pids()) - database0
    client = client_seconds() - client0
    return {"rate": count / wall, "failed": sum(failed),
            "service_ms": 1000 * service / count, "database_ms": 1000 * dbase / count,
            "client_ms": 1000 * client / count,
            "busy": (service + dbase + client) / (wall * (os.cpu_count() or 1))}


def measure(url: str, names: list[str], seconds: float, counts=(1, 2, 4, 8),
            root: Path = ROOT) -> dict:
    """{writers: figures} on one instance of 8 workers (warmed on every tenant),
    serving the checkout at `root`."""
    instance = Instance(url, workers=8, root=root, AUTHZ_WRITE_RATE_LIMIT=UNLIMITED_WRITES)
    try:
        run(instance, names, max(counts), 3)  # every worker has seen every tenant
        return {n: run(instance, names, n, seconds) for n in counts}
    finally:
        instance.stop()


def table(results: dict) -> str:
    cores = os.cpu_count() or 1
    one = results[min(results)]["rate"]
    lines = ["| writers (each its own tenant) | writes/s | vs 1 writer | CPU ms per write: "
             "service / PostgreSQL / client | cores busy | bound: cores / CPU per write |",
             "|---|---|---|---|---|---|"]
    for n, r in results.items():
        per_write = r["service_ms"] + r["database_ms"] + r["client_ms"]
        lines.append(
            f"| {n} | {r['rate']:.0f} | {r['rate'] / one:.2f}x | {r['service_ms']:.1f} / "
            f"{r['database_ms']:.1f} / {r['client_ms']:.1f} | {r['busy']:.0%} | "
            f"{1000 * cores / per_write:.0f} writes/s ({1000 * cores / per_write / one:.2f}x)"
            + (f", {r['failed']} failed" if r["failed"] else "") + " |")
    return "\n".join(lines)


def against(base_rev: str, url: str, names: list[str], seconds: float, rounds: int) -> str:
    """This tree against `base_rev` with 8 writers, interleaved round by round on one
    database (the base checked out with git worktree, served by this tree's gunicorn):
    the table, and the ratio of the medians."""
    runs: dict[str, list[dict]] = {"base": [], "this": []}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), base_rev],
                       cwd=ROOT, check=True)
        try:
            for n in range(rounds):
                for name, tree in (("base", base), ("this", ROOT)):
                    print(f"round {n + 1}: {name}...", file=sys.stderr)
                    runs[name].append(measure(url, names, seconds, (8,), tree)[8])
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT,
                           check=False)
    lines = ["| round | code | writes/s, 8 writers | CPU ms per write: service / PostgreSQL "
             "/ client |", "|---:|---|---:|---|"]
    for n in range(rounds):
        for name in ("base", "this"):
            r = runs[name][n]
            lines.append(f"| {n + 1} | {name} | {r['rate']:.0f} | {r['service_ms']:.1f} / "
                         f"{r['database_ms']:.1f} / {r['client_ms']:.1f} |")
    rate = {k: statistics.median(r["rate"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["service_ms"] for r in v) for k, v in runs.items()}
    lines.append(f"\nmedian writes/s: base {rate['base']:.0f}, this {rate['this']:.0f}: "
                 f"this / base = {rate['this'] / rate['base']:.2f}x; service CPU per write: "
                 f"base {cpu['base']:.1f} ms, this {cpu['this']:.1f} ms")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writes")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--base", help="a revision to compare against (8 writers, "
                                       "interleaved)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("bench data (generated once, then reused)...", file=sys.stderr)
    url = database("platform")
    if args.base:
        print(f"\n8 workers, PostgreSQL, {os.cpu_count()} cores; {args.seconds:g} s "
              f"each, base {args.base}\n")
        print(against(args.base, url, tenants("platform"), args.seconds, args.rounds))
        return 0
    results = measure(url, tenants("platform"), args.seconds)
    print(f"\n8 workers, PostgreSQL, {os.cpu_count()} cores; {args.seconds:g} s each\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
