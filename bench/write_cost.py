"""`make bench-write-cost`: what one write costs the service, in process (no HTTP, no other
process): CPU milliseconds and SQL statements per write, on an 820-rule tenant and on an
8,000-rule one of the bench platform (5 stores x 99 sub-accounts), on PostgreSQL.

The writes are a sub-account's status flipped (the ordinary write of issue 27), then an
approval filed, decided by the owner and used by a check (R24). CPU is this thread's
(time.thread_time): the service runs in it, so nothing else on the machine is counted.
Prints a table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from sqlalchemy import event

from bench.generate import MARKETS, tenants
from bench.run import database
from service import create_app
from service.domain import policy_admin as A
from service.domain import rules as R
from service.domain.catalogue import PERMISSIONS
from service.domain.decider import CheckRequest
from service.domain.keys import CHECK, OWNER, Caller
from service.domain.rules import Rule
from service.storage.models import db
from service.usecases import approvals

DIRECT = [f"{p.area}:{p.action}" for p in PERMISSIONS if not p.owner_only][:15]


def _owner(tenant: str) -> Caller:
    return Caller("bench", OWNER, tenant)


def _grow(service, tenant: str) -> int:
    """Give every sub-account of `tenant` direct permissions in every store, once: about
    8,000 rules in all. Returns the tenant's rule count."""
    def edit(policy):
        for i in range(99):
            user = R.user(tenant, f"staff-{i:02d}")
            for market in MARKETS:
                for name in DIRECT:
                    area, action = name.split(":")
                    policy.add(Rule("p", (user, R.store(tenant, market), area, action,
                                          "allow")))
        return len(policy)
    return service.write(_owner(tenant), tenant, "bench: grow", edit)[1]


def _measure(service, statements: list[int], write, n: int) -> dict:
    cpu, sql = [], []
    for i in range(n):
        before_sql = statements[0]
        started = time.thread_time()
        write(i)
        cpu.append(1000 * (time.thread_time() - started))
        sql.append(statements[0] - before_sql)
    return {"cpu_ms": statistics.median(cpu), "cpu_p90": statistics.quantiles(cpu, n=10)[8],
            "sql": statistics.median(sql)}


def _approvals(service, statements, tenant: str, size: int, n: int) -> list:
    """An approval filed, decided by the owner and used by a check, `n` times each (R24):
    each is a write of the tenant."""
    owner = _owner(tenant)
    subject = "staff-11"
    store = MARKETS[0]
    grant = Rule("p", (R.user(tenant, subject), R.store(tenant, store), "refunds", "approve",
                       "allow"))
    service.write(owner, tenant, "bench: approvals", lambda p: p.add(grant))
    approvals.set_mode(service, owner, tenant, "refunds:approve", "always")
    filed: list[str] = []
    decided: list[str] = []

    def file(i):
        filed.append(approvals.file(service, owner, tenant, {
            "subject": subject, "store": store, "permission": "refunds:approve"})[1]["id"])

    def decide(i):
        approvals.decide(service, owner, tenant, filed[i], None, True)
        decided.append(filed[i])

    def use(i):
        code, _ = approvals.use(service, Caller("bench-check", CHECK, tenant), CheckRequest(
            tenant, subject, store, "refunds", "approve", True, approval=decided[i]))
        assert code == "granted", code

    return [(f"approval {what}, {size} rules", _measure(service, statements, step, n))
            for what, step in (("filed", file), ("decided", decide), ("used", use))]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.write_cost")
    parser.add_argument("--writes", type=int, default=200)
    args = parser.parse_args()
    url = database("medium")
    names = tenants("medium")
    small, large = names[5], names[6]
    app = create_app({"AUTHZ_DATABASE_URL": url, "AUTHZ_LISTEN": False,
                      "AUTHZ_WRITE_RATE_LIMIT": "1000000/minute", "AUTHZ_REQUEST_LOG": False})
    statements = [0]
    rows = []
    with app.app_context():
        service = app.extensions["authz"]

        @event.listens_for(db.engine, "before_cursor_execute")
        def count(*_):
            statements[0] += 1

        sizes = {small: len(service.read(_owner(small), small).rules())}
        current = len(service.read(_owner(large), large).rules())
        sizes[large] = current if current > 4000 else _grow(service, large)
        for tenant in (small, large):
            service.held(tenant)  # this worker holds the tenant, as a serving one would
            def status(i, tenant=tenant):
                disabled = i % 2 == 0
                service.write(_owner(tenant), tenant, "bench",
                              lambda p: A.set_disabled(p, "staff-07", disabled))
            status(-1)
            rows.append((f"status flip, {sizes[tenant]} rules",
                         _measure(service, statements, status, args.writes)))
            rows += _approvals(service, statements, tenant, sizes[tenant], args.writes)
    print(f"\nin process, PostgreSQL, {args.writes} writes each\n")
    print("| write | CPU ms (median) | CPU ms (p90) | SQL statements |")
    print("|---|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['cpu_ms']:.2f} | {r['cpu_p90']:.2f} | {r['sql']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
