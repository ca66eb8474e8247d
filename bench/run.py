"""`make bench`: one table for the decision service at three scales.

For each scale: a PostgreSQL database of generated tenants (bench/generate.py, kept
between runs), then
  - one process loading it: cold start, RSS, in-process decision p50/p99, write p50/p99
    (grant or revoke one role, commit included), a differential sample against pycasbin;
  - gunicorn serving it with gunicorn.conf.py (2 sync workers), loaded by wrk (8
    connections, 2 threads) next to bench/noop_app.py under the same configuration:
    req/s and p99 of /check, /check/batch (100 checks) and the do-nothing endpoint.
Finally the fast path against pycasbin on 1,000,000 random requests (bench/differential.py).
Ratios are against the do-nothing endpoint measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text

from bench.generate import MARKETS, SCALES, generate, tenants
from service import config
from service.storage.notifier import libpq_dsn
from tests.servers import Instance, free_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG = os.environ.get("AUTHZ_TEST_POSTGRES_URL",
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ADMIN = config.DEV_ADMIN_KEY


def database(scale: str) -> str:
    """The bench database of a scale, generated once and reused while it is complete."""
    name = f"authz_bench2_{scale}"  # bump when generate.py changes
    url = PG.rsplit("/", 1)[0] + f"/{name}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": name}).first()
    if exists:
        try:
            with psycopg.connect(libpq_dsn(url)) as conn:
                tenants_in = conn.execute("SELECT count(*) FROM tenant").fetchone()[0]
            if tenants_in == len(tenants(scale)):
                admin.dispose()
                return url
        except psycopg.Error:
            pass
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    subprocess.run([Path(PY).parent / "flask", "--app", "service", "init-db"], cwd=ROOT,
                   env={**os.environ, "AUTHZ_DATABASE_URL": url}, check=True,
                   capture_output=True)
    t0 = time.perf_counter()
    count = generate(url, scale)
    print(f"  generated {scale}: {count:,} rules in {time.perf_counter() - t0:.1f}s",
          file=sys.stderr)
    return url


def wrk(url: str, bodies: list[str], headers: dict, seconds: int) -> dict:
    """req/s and p99 (ms) from wrk, rotating through `bodies`."""
    lines = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    lines.append("bodies = {" + ",".join("[=[" + b + "]=]" for b in bodies) + "}")
    lines.append("i = 0\nrequest = function()\n  i = i % #bodies + 1\n"
                 "  return wrk.format(nil, nil, nil, bodies[i])\nend")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines))
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s",
                          script.name, url], capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale,
            "non2xx": int(errors.group(1)) if errors else 0}


def http(url: str, scale: str, seconds: int) -> dict:
    rng = random.Random(3)
    names = tenants(scale)

    def one() -> dict:
        return {"tenant": rng.choice(names), "subject": f"staff-{rng.randrange(99):02d}",
                "store": rng.choice(MARKETS), "object": "orders", "action": "view"}

    singles = [json.dumps(one()) for _ in range(50)]
    batches = [json.dumps({"checks": [one() for _ in range(100)]}) for _ in range(10)]
    auth = {"Authorization": f"Bearer {ADMIN}"}
    service = Instance(url, AUTHZ_LISTEN="true")
    try:
        for body in singles[:4]:  # warm every worker's policy before measuring
            subprocess.run(["curl", "-s", "-o", "/dev/null", "-X", "POST", "-H",
                            f"Authorization: Bearer {ADMIN}", "-H",
                            "Content-Type: application/json", "-d", body,
                            service.url + "/check"], check=True)
        time.sleep(1)
        check = wrk(service.url + "/check", singles, auth, seconds)
        batch = wrk(service.url + "/check/batch", batches, auth, seconds)
    finally:
        service.stop()
    port = free_port()
    noop = subprocess.Popen([Path(PY).parent / "gunicorn", "--config", "gunicorn.conf.py",
                             "--access-logfile", "/dev/null", "bench.noop_app:create_app()"],
                            cwd=ROOT, env={**os.environ, "PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        baseline = wrk(f"http://127.0.0.1:{port}/noop", singles, auth, seconds)
    finally:
        noop.terminate()
        noop.wait()
    return {"check": check, "batch": batch, "noop": baseline}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="small,medium,large")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--differential", type=int, default=1_000_000)
    args = parser.parse_args()
    rows = []
    for scale in args.scales.split(","):
        print(f"scale {scale} ({SCALES[scale]:,} stores)...", file=sys.stderr)
        url = database(scale)
        inproc = json.loads(subprocess.run(
            [PY, "-m", "bench.inprocess", "--url", url, "--scale", scale], cwd=ROOT,
            capture_output=True, text=True, check=True).stdout)
        rows.append((scale, inproc, http(url, scale, args.seconds)))
    print("differential on random policies...", file=sys.stderr)
    diff = json.loads(subprocess.run(
        [PY, "-m", "bench.differential", "--cases", str(args.differential)], cwd=ROOT,
        capture_output=True, text=True, check=True).stdout)

    print()
    print("| scale | stores | cold start s | RSS MB | decide p50 µs | decide p99 µs "
          "| write p50 ms | write p99 ms | mismatches / compared |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scale, i, _ in rows:
        print(f"| {scale} | {SCALES[scale]:,} | {i['cold_start_s']:.2f} | {i['rss_mb']:.0f} "
              f"| {i['decide_p50_us']:.1f} | {i['decide_p99_us']:.1f} "
              f"| {i['write_p50_ms']:.1f} | {i['write_p99_ms']:.1f} "
              f"| {i['differential_mismatches']} / {i['differential_compared']:,} |")
    print()
    print("| scale | endpoint | req/s | decisions/s | p99 ms | vs do-nothing | non-2xx |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for scale, _, h in rows:
        base = h["noop"]["rps"]
        for name, key, per in (("do-nothing (baseline)", "noop", 1), ("/check", "check", 1),
                               ("/check/batch (100)", "batch", 100)):
            r = h[key]
            print(f"| {scale} | {name} | {r['rps']:,.0f} | {r['rps'] * per:,.0f} "
                  f"| {r['p99_ms']:.2f} | {r['rps'] / base:.2f}x | {r['non2xx']} |")
    print()
    print(f"differential, random policies of every rule shape: {diff['mismatches']} "
          f"mismatches in {diff['compared']:,} requests")
    mismatches = diff["mismatches"] + sum(i["differential_mismatches"] for _, i, _ in rows)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
