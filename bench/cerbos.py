"""`make bench-cerbos`: our `/check` against the Cerbos PDP (issue 28's yardstick), the
same client and load on the same two cores: wrk -t1 -c8, interleaved round by round,
each figure the median of its rounds, ratios against Cerbos measured in the same run.

- Cerbos 0.55 from the npm registry's `@cerbos/cerbos-linux-x64` (installed here into
  bench/.cerbos on first use), serving one resource policy made from the seed's role
  templates: a rule per role allowing its permissions ("orders:view", ...) on a `store`
  the principal is assigned (`request.resource.id in request.principal.attr.stores`),
  and the owner everything. Each question is asked as CheckResources with the principal's
  roles and stores as the seed gives them.
- Ours as `make run` serves it: gunicorn.conf.py (2 workers, uvicorn's: service/api/asgi.py)
  on a fresh SQLite file with the seed, the same questions on `/check` with acme's check
  key; the same on PostgreSQL (a scratch database on the local server, seeded); and on
  SQLite with AUTHZ_WORKER=sync (gunicorn's sync workers, the old default).
- The ceiling: bench/noop_app.py's raw ASGI app (read a JSON body, answer JSON) on the
  same gunicorn and worker.

Cerbos does not model our denies, departments or store-scoped grants, so a few answers
differ; the table says how many of the questions the two answer alike.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from bench import noop_app
from bench.run import PY, ROOT, wrk_lua
from harness import ACME_CHECK, PG_ADMIN_URL
from harness.servers import (
    Instance,
    answers,
    free_port,
    init_database,
    seeded_sqlite_instance,
)

VERSION = "0.55.0"
CACHE = ROOT / "bench" / ".cerbos"
BINARY = CACHE / "node_modules" / "@cerbos" / "cerbos-linux-x64" / "cerbos-linux-x64"
STORES = ("amazon-us", "tmall-flagship", "shopee-sg")
# The seed's sub-accounts as Cerbos principals: the roles they hold (their own and their
# departments') and the stores they are assigned (policies/seed.csv).
PRINCIPALS = {
    "alice": (["customer-service"], ["amazon-us", "tmall-flagship"]),
    "bob": (["customer-service"], ["shopee-sg"]),
    "carol": (["finance"], list(STORES)),
    "dave": (["operator"], ["amazon-us", "tmall-flagship"]),
    "erin": (["marketing"], ["amazon-us", "shopee-sg"]),
    "frank": (["warehouse"], ["amazon-us"]),
    "grace": (["designer"], list(STORES)),
    "heidi": (["store-manager", "customer-service"], ["tmall-flagship"]),
    "owner": (["owner"], list(STORES)),
}
PERMISSIONS = ("orders:view", "refunds:view", "products:edit", "prices:change",
               "reports:view", "finance:withdraw")


def install() -> Path:
    if not BINARY.exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(CACHE),
                        f"@cerbos/cerbos-linux-x64@{VERSION}"], check=True,
                       capture_output=True)
    return BINARY


def role_templates() -> dict[str, list[str]]:
    """role -> its permissions, from the seed's `p, role:acme:<role>, acme, ...` lines."""
    roles: dict[str, list[str]] = {}
    for line in (ROOT / "policies" / "seed.csv").read_text().splitlines():
        found = re.fullmatch(r"p, role:acme:([\w-]+), acme, ([\w.]+), (\w+), allow", line.strip())
        if found:
            roles.setdefault(found[1], []).append(f"{found[2]}:{found[3]}")
    return roles


def policy() -> str:
    rules = [{"actions": ["*"], "effect": "EFFECT_ALLOW", "roles": ["owner"]}]
    for role, permissions in sorted(role_templates().items()):
        rules.append({"actions": permissions, "effect": "EFFECT_ALLOW", "roles": [role],
                      "condition": {"match": {
                          "expr": "request.resource.id in request.principal.attr.stores"}}})
    # YAML is a superset of JSON: the policy file needs no YAML writer
    return json.dumps({"apiVersion": "api.cerbos.dev/v1", "resourcePolicy": {
        "version": "default", "resource": "store", "rules": rules}}, indent=1)


def questions() -> list[tuple[str, str, str]]:
    return [(s, store, p) for s in PRINCIPALS for store in STORES for p in PERMISSIONS]


def cerbos_body(subject: str, store: str, permission: str) -> dict:
    roles, stores = PRINCIPALS[subject]
    return {"requestId": "bench", "principal": {"id": subject, "roles": roles,
                                                 "attr": {"stores": stores}},
            "resources": [{"resource": {"kind": "store", "id": store},
                           "actions": [permission]}]}


def check_body(subject: str, store: str, permission: str) -> dict:
    area, action = permission.split(":")
    return {"subject": subject, "store": store, "object": area, "action": action}


class Cerbos:
    def __init__(self, directory: Path):
        (directory / "policies").mkdir(parents=True)
        (directory / "policies" / "store.yaml").write_text(policy())
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (directory / "config.yaml").write_text(json.dumps({
            "server": {"httpListenAddr": f"127.0.0.1:{self.port}",
                       "grpcListenAddr": f"127.0.0.1:{free_port()}"},
            "storage": {"driver": "disk", "disk": {"directory": str(directory / "policies"),
                                                    "watchForChanges": False}},
            "audit": {"enabled": False}}))
        self.process = subprocess.Popen(
            [str(install()), "server", f"--config={directory / 'config.yaml'}",
             "--log-level=error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not answers(self.url + "/_cerbos/health", 30):
            self.stop()
            raise RuntimeError("cerbos did not start")

    def allowed(self, subject: str, store: str, permission: str) -> bool:
        answer = requests.post(self.url + "/api/check/resources",
                               json=cerbos_body(subject, store, permission), timeout=5).json()
        return answer["results"][0]["actions"][permission] == "EFFECT_ALLOW"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


@contextmanager
def seeded_postgres():
    """The URL of a scratch database on the local PostgreSQL, seeded; dropped after."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = "authz_bench_cerbos"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        init_database(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def load(url: str, bodies: list[dict], headers: dict, seconds: int) -> dict:
    """wrk -t1 -c8 POSTing `bodies` in turn: req/s and p99 (ms)."""
    texts = [json.dumps(b) for b in bodies]
    lua = "\n".join(["bodies = {" + ",".join("[=[" + t + "]=]" for t in texts) + "}",
                     "i = 0\nrequest = function()\n  i = i % #bodies + 1\n"
                     "  return wrk.format(nil, nil, nil, bodies[i])\nend"])
    return wrk_lua(url, lua, headers, seconds, threads=1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    asked = questions()
    auth = {"Authorization": f"Bearer {ACME_CHECK}"}
    with tempfile.TemporaryDirectory() as scratch, seeded_postgres() as pg_url:
        cerbos = Cerbos(Path(scratch) / "cerbos")
        ours = seeded_sqlite_instance(Path(scratch) / "async")
        on_postgres = Instance(pg_url)
        sync = seeded_sqlite_instance(Path(scratch) / "sync", AUTHZ_WORKER="sync")
        noop_port = free_port()
        noop = subprocess.Popen(noop_app.command(Path(PY).parent), cwd=ROOT,
                                env={**os.environ, "PORT": str(noop_port)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            alike = sum(cerbos.allowed(*q) == requests.post(
                ours.url + "/check", json=check_body(*q), headers=auth,
                timeout=5).json()["allowed"] for q in asked)
            targets = {
                "Cerbos 0.55 PDP (CheckResources)":
                    (cerbos.url + "/api/check/resources", [cerbos_body(*q) for q in asked], {}),
                "ours: /check (make run: gunicorn, uvicorn's worker, 2 workers, SQLite)":
                    (ours.url + "/check", [check_body(*q) for q in asked], auth),
                "ours: /check on PostgreSQL (the same, the local server)":
                    (on_postgres.url + "/check", [check_body(*q) for q in asked], auth),
                "ours: /check, AUTHZ_WORKER=sync (gunicorn's sync worker)":
                    (sync.url + "/check", [check_body(*q) for q in asked], auth),
                "the ceiling: a raw JSON app on the same gunicorn and worker":
                    (f"http://127.0.0.1:{noop_port}/noop", [check_body(*q) for q in asked], auth),
            }
            for url, bodies, headers in targets.values():  # warm every one first
                load(url, bodies, headers, 2)
            runs: dict[str, list[dict]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (url, bodies, headers) in targets.items():
                    runs[name].append(load(url, bodies, headers, args.seconds))
        finally:
            cerbos.stop()
            ours.stop()
            on_postgres.stop()
            sync.stop()
            noop.terminate()
            noop.wait()
    base = "Cerbos 0.55 PDP (CheckResources)"
    rps = {n: statistics.median(r["rps"] for r in found) for n, found in runs.items()}
    p99 = {n: statistics.median(r["p99_ms"] for r in found) for n, found in runs.items()}
    ceiling = [n for n in runs if n.startswith("the ceiling")][0]
    check = [n for n in runs if n.startswith("ours: /check (make run")][0]
    print(f"\nwrk -t1 -c8, {args.rounds} interleaved rounds of {args.seconds} s; "
          f"{len(asked)} questions, answered alike by both on {alike}; /check against the "
          f"ceiling: {rps[check] / rps[ceiling]:.2f}x\n")
    print("| server | req/s (median) | p99 ms (median) | req/s vs Cerbos | p99 vs Cerbos |")
    print("|---|---:|---:|---:|---:|")
    for name in runs:
        errors = sum(r["non2xx"] for r in runs[name])
        print(f"| {name}{f' ({errors} non-2xx)' if errors else ''} | {rps[name]:,.0f} | "
              f"{p99[name]:.2f} | {rps[name] / rps[base]:.2f}x | {p99[name] / p99[base]:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
