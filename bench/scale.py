"""`make bench-scale`: a platform larger than one machine's memory, served by tenants loaded
on demand (issue 18).

A generated platform of 20,000 tenants (5 stores x 99 sub-accounts each, about 16M rules)
in PostgreSQL, asked about with Zipf(1.1) tenant popularity (a few sellers are most of
the traffic). Printed, each figure measured in this run on this machine:

  - time to ready (spawn to /ready 200) with a 256 MB budget and without;
  - per worker RSS, cache hit rate, /check req/s and p99 with cold loads included, for the
    budget and without, against the all-in-memory large scale (2,000 tenants, every
    tenant held, warm) under the same wrk load;
  - the first request to a cold tenant, p50/p99 (sequential, one worker);
  - writes/s with 1, 2, 4 and 8 writers, each on a tenant of its own, with the CPU each
    write costs and the bound two cores set (bench/writes.py);
  - one instance against three, both behind HAProxy with consistent hashing on the tenant
    (on this 2-core machine the three share the same two cores: what they change is what
    each holds, not the CPU).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time

import requests

from bench import writes as bench_writes
from bench.generate import MARKETS, tenants
from bench.run import ADMIN, database, wrk_lua
from harness.servers import HAProxy, Instance

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def zipf(names: list[str], count: int, s: float, rng: random.Random) -> list[str]:
    """`count` tenants drawn with P(rank k) proportional to 1/k^s (rank = list order)."""
    weights = [1 / (k ** s) for k in range(1, len(names) + 1)]
    return rng.choices(names, weights=weights, k=count)


def workload(picks: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """(path, body) of a /v1/tenants/<t>/check per pick."""
    out = []
    for tenant in picks:
        body = {"subject": f"staff-{rng.randrange(99):02d}", "store": rng.choice(MARKETS),
                "object": "orders", "action": "view"}
        out.append((f"/v1/tenants/{tenant}/check", json.dumps(body)))
    return out


def wrk(url: str, items: list[tuple[str, str]], seconds: int) -> dict:
    paths = ",".join(json.dumps(p) for p, _ in items)
    bodies = ",".join("[[" + b + "]]" for _, b in items)
    lua = (f"paths = {{{paths}}}\nbodies = {{{bodies}}}\ni = 0\n"
           "request = function()\n  i = i % #paths + 1\n"
           "  return wrk.format(nil, paths[i], nil, bodies[i])\nend")
    return wrk_lua(url, lua, AUTH, seconds)


def rss_mb(instances: list[Instance]) -> list[float]:
    """Each worker's resident memory, MB."""
    out = []
    for instance in instances:
        for pid in instance.worker_pids():
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        out.append(int(line.split()[1]) / 1024)
    return out


def counter(url: str, name: str) -> float:
    """A counter summed over its series and every worker (/metrics, multiprocess)."""
    text = requests.get(url + "/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? ([\d.e+]+)$", text,
                                             re.M))


def wait_ready(url: str, started: float, timeout: float = 120) -> float:
    while time.monotonic() - started < timeout:
        try:
            if requests.get(url + "/ready", timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.02)
    raise RuntimeError("never ready")


def served(url: str, instances: list[Instance], items, seconds: int) -> dict:
    """wrk on `url`, then what it cost: RSS, tenant loads per decision."""
    loads0 = sum(counter(i.url, "authz_tenant_loads_total") for i in instances)
    asked0 = sum(counter(i.url, "authz_decisions_total") for i in instances)
    result = wrk(url, items, seconds)
    loads = sum(counter(i.url, "authz_tenant_loads_total") for i in instances) - loads0
    asked = sum(counter(i.url, "authz_decisions_total") for i in instances) - asked0
    rss = rss_mb(instances)
    return {**result, "hit_rate": 1 - loads / asked if asked else float("nan"),
            "loads": loads, "rss_max_mb": max(rss), "rss_total_mb": sum(rss),
            "held": [requests.get(i.url + "/ready", timeout=5).json()["tenants_held"]
                     for i in instances]}


def cold_requests(url: str, names: list[str], count: int) -> dict:
    instance = Instance(url, workers=1)
    try:
        timings = []
        with requests.Session() as session:
            session.headers.update(AUTH)
            for tenant in names[-count:]:  # the least popular: never asked before here
                t0 = time.perf_counter()
                answer = session.post(f"{instance.url}/v1/tenants/{tenant}/check", json={
                    "subject": "staff-01", "store": MARKETS[0], "object": "orders",
                    "action": "view"}, timeout=30)
                timings.append((time.perf_counter() - t0) * 1000)
                assert answer.status_code == 200 and "allowed" in answer.json()
        cuts = statistics.quantiles(timings, n=100)
        return {"p50_ms": cuts[49], "p99_ms": cuts[98]}
    finally:
        instance.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=20,
                        help="seconds of the same load before each measured run")
    parser.add_argument("--budget-mb", type=int, default=256)
    args = parser.parse_args()
    rng = random.Random(11)
    print("bench data (generated once, then reused)...", file=sys.stderr)
    platform_url, large_url = database("platform"), database("large")
    names = tenants("platform")
    items = workload(zipf(names, 100_000, 1.1, rng), rng)
    distinct = len({p for p, _ in items})
    rows: dict = {}

    for label, budget in (("budget", args.budget_mb), ("no budget", None)):
        print(f"one instance, {label}...", file=sys.stderr)
        started = time.monotonic()
        env = {"AUTHZ_TENANT_CACHE_MB": budget} if budget else {}
        instance = Instance(platform_url, **env)
        ready = wait_ready(instance.url, started)
        try:
            wrk(instance.url, items, args.warmup)  # steady state: misses keep coming
            rows[label] = {"ready_s": ready, **served(instance.url, [instance], items,
                                                      args.seconds)}
        finally:
            instance.stop()

    print("the all-in-memory large scale...", file=sys.stderr)
    large_names = tenants("large")
    large_items = workload([rng.choice(large_names) for _ in range(30_000)], rng)
    instance = Instance(large_url)
    try:
        # every worker loads every tenant (each is asked many times over), then: warm
        wrk(instance.url, workload(large_names * 4, rng), args.warmup)
        rows["large, all held"] = {"ready_s": float("nan"),
                                   **served(instance.url, [instance], large_items,
                                            args.seconds)}
    finally:
        instance.stop()

    print("cold tenants...", file=sys.stderr)
    cold = cold_requests(platform_url, names, 300)

    print("writes...", file=sys.stderr)
    writes = bench_writes.measure(platform_url, names, 6)

    print("one instance against three behind HAProxy...", file=sys.stderr)
    proxied = {}
    for count in (1, 3):
        instances = [Instance(platform_url, AUTHZ_TENANT_CACHE_MB=args.budget_mb)
                     for _ in range(count)]
        proxy = HAProxy(instances)
        try:
            wrk(proxy.url, items, args.warmup)
            proxied[count] = served(proxy.url, instances, items, args.seconds)
        finally:
            proxy.stop()
            for i in instances:
                i.stop()

    print(f"\nplatform: {len(names):,} tenants, ~16M rules in PostgreSQL; workload "
          f"{len(items):,} checks over {distinct:,} tenants, Zipf(1.1); 2 sync workers "
          f"per instance; wrk -t2 -c8, {args.seconds} s measured after {args.warmup} s of "
          "the same load (hit rate and loads: the measured window)\n")
    print("| run | ready s | /check req/s | p99 ms | hit rate | tenant loads | "
          "RSS per worker MB (max) | tenants held per worker |")
    print("|---|---|---|---|---|---|---|---|")
    base = rows["large, all held"]["rps"]
    for label, r in rows.items():
        name = f"platform, {args.budget_mb} MB budget" if label == "budget" else \
            ("platform, no budget" if label == "no budget" else label)
        print(f"| {name} | {r['ready_s']:.2f} | {r['rps']:,.0f} ({r['rps'] / base:.2f}x) "
              f"| {r['p99_ms']:.1f} | {r['hit_rate']:.1%} | {r['loads']:,.0f} "
              f"| {r['rss_max_mb']:.0f} | {r['held']} |")
    print(f"\nfirst request to a cold tenant (300 tenants, one worker): "
          f"p50 {cold['p50_ms']:.1f} ms, p99 {cold['p99_ms']:.1f} ms\n")
    print(bench_writes.table(writes))
    print("\n| behind HAProxy | /check req/s | p99 ms | hit rate | RSS per worker MB (max) "
          "| RSS total MB | tenants held per instance |")
    print("|---|---|---|---|---|---|---|")
    for count, r in proxied.items():
        print(f"| {count} instance{'s' if count > 1 else ''}, {args.budget_mb} MB each | "
              f"{r['rps']:,.0f} | {r['p99_ms']:.1f} | {r['hit_rate']:.1%} | "
              f"{r['rss_max_mb']:.0f} | {r['rss_total_mb']:.0f} | {r['held']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
