"""`make bench-decision-log`: what the decision log (R19) costs /check and /check/batch.

The same gunicorn configuration serves the same generated database with
AUTHZ_DECISION_LOG=false and with the default (every deny, every high-risk allow, 1 % of
the other allows), loaded by the same wrk client, in rounds that alternate the order so
drift on this shared machine falls on both sides; the table gives medians and ratios.

Two workloads:
  - repeating: bench/run.py's bodies (1,000 distinct checks, a quarter of them denies),
    like storefront pages asking the same questions for the same staff again and again;
    the log counts a repeated decision instead of writing it again;
  - all distinct: every check drawn at random from tenants x 99 staff x 5 stores x 33
    permissions (3.3M at medium), mostly denies, so nearly every check is a new row: the
    log's worst case, a flood of distinct denies.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import psycopg

from bench.generate import MARKETS, SCALES, tenants
from bench.run import ADMIN, database, workload, wrk, wrk_lua
from harness.servers import Instance
from service.domain import catalogue
from service.storage.notifier import libpq_dsn

TARGET = 0.95  # the log may cost at most 5 % of the throughput
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def random_checks_lua(scale: str, per_request: int) -> str:
    """wrk's `request`: a fresh random check (or batch of them) for every request."""
    names = ",".join(f'"{t}"' for t in tenants(scale))
    stores = ",".join(f'"{m}"' for m in MARKETS)
    perms = ",".join(f'{{"{p.area}","{p.action}"}}' for p in catalogue.PERMISSIONS)
    one = ('string.format(\'{"tenant":"%s","subject":"staff-%02d","store":"%s",'
           '"object":"%s","action":"%s"}\', t[math.random(#t)], math.random(0, 98), '
           's[math.random(#s)], p[1], p[2])')
    body = ("one()" if per_request == 1 else
            f'\'{{"checks":[\' .. many({per_request}) .. \']}}\'')
    return f"""
t = {{{names}}}
s = {{{stores}}}
ps = {{{perms}}}
math.randomseed(os.time() + tonumber(tostring({{}}):sub(8), 16))
function one()
  local p = ps[math.random(#ps)]
  return {one}
end
function many(n)
  local parts = {{}}
  for k = 1, n do parts[k] = one() end
  return table.concat(parts, ",")
end
request = function()
  return wrk.format(nil, nil, nil, {body})
end"""


def measure(url: str, scale: str, logging: bool, seconds: int) -> dict:
    singles, batches = workload(scale)
    service = Instance(url, AUTHZ_LISTEN="true",
                       AUTHZ_DECISION_LOG="true" if logging else "false")
    try:
        wrk(service.url + "/check", singles[:4], AUTH, 1)  # warm both workers
        return {
            ("repeating", "check"): wrk(service.url + "/check", singles, AUTH, seconds),
            ("repeating", "batch"): wrk(service.url + "/check/batch", batches, AUTH, seconds),
            ("all distinct", "check"): wrk_lua(service.url + "/check",
                                               random_checks_lua(scale, 1), AUTH, seconds),
            ("all distinct", "batch"): wrk_lua(service.url + "/check/batch",
                                               random_checks_lua(scale, 100), AUTH, seconds),
        }
    finally:
        service.stop()


def _logged(url: str) -> tuple[int, int]:
    with psycopg.connect(libpq_dsn(url)) as conn:
        return conn.execute("SELECT count(*), coalesce(sum(count), 0) FROM decision_log"
                            ).fetchone()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="medium", choices=SCALES)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    args = parser.parse_args()
    url = database(args.scale)
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        conn.execute("TRUNCATE decision_log")
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for n in range(args.rounds):
        for logging in ((False, True) if n % 2 == 0 else (True, False)):
            print(f"round {n + 1}, decision log {'on' if logging else 'off'}...",
                  file=sys.stderr)
            runs[logging].append(measure(url, args.scale, logging, args.seconds))
    rows, decisions = _logged(url)

    print(f"\nscale {args.scale} ({SCALES[args.scale]:,} stores), {args.rounds} rounds of "
          f"{args.seconds} s per endpoint, medians\n")
    print("| workload | endpoint | log off decisions/s | log on decisions/s | on / off "
          "| p99 ms off | p99 ms on |")
    print("|---|---|---:|---:|---:|---:|---:|")
    ratios = {}
    for key in runs[False][0]:
        per = 100 if key[1] == "batch" else 1
        off = statistics.median(r[key]["rps"] for r in runs[False]) * per
        on = statistics.median(r[key]["rps"] for r in runs[True]) * per
        ratios[key] = on / off
        print(f"| {key[0]} | {'/check/batch (100)' if per > 1 else '/check'} | {off:,.0f} "
              f"| {on:,.0f} | {on / off:.3f} "
              f"| {statistics.median(r[key]['p99_ms'] for r in runs[False]):.2f} "
              f"| {statistics.median(r[key]['p99_ms'] for r in runs[True]):.2f} |")
    print(f"\nthe 'on' runs logged {decisions:,} decisions in {rows:,} rows")
    for workload_name in ("repeating", "all distinct"):
        worst = min(v for k, v in ratios.items() if k[0] == workload_name)
        print(f"{workload_name}: on/off >= {TARGET} "
              f"{'met' if worst >= TARGET else 'NOT met'} (worst {worst:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
