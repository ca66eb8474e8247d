"""Bench data: tenants of 5 stores and 99 sub-accounts each, with a realistic role mix,
written straight into a database the service then loads.

    scale    stores   tenants   rules (about)
    small       100        20        17,000
    medium    1,000       200       170,000
    large    10,000     2,000     1,700,000   (about 1M grouping rules, R14 assignments)
"""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from types import SimpleNamespace

import psycopg

from service.domain import rules as R
from service.domain.accounts import BUILTIN_ROLES
from service.domain.rules import Rule
from service.storage import ledger
from service.storage.notifier import libpq_dsn

SCALES = {"small": 100, "medium": 1_000, "large": 10_000,
          # a platform, not a machine: 20,000 tenants (bench/scale.py)
          "platform": 100_000}
STORES_PER_TENANT = 5
SUB_ACCOUNTS = 99
MARKETS = ["amazon-us", "tmall-flagship", "shopee-sg", "ebay-de", "lazada-my"]
DEPARTMENTS = ["customer-care", "accounting", "operations"]


def tenant_rules(rng: random.Random, tenant: str) -> list[Rule]:
    stores = [R.store(tenant, m) for m in MARKETS[:STORES_PER_TENANT]]
    owner = R.owner(tenant)
    out = [Rule("p", (owner, tenant, R.ANY, R.ANY, "allow"))]
    for s in stores:
        out += [Rule("g2", (s, tenant)), Rule("g", (owner, s))]
    for role, perms in BUILTIN_ROLES.items():
        for perm in perms:
            area, action = perm.split(":")
            out.append(Rule("p", (R.role(tenant, role), tenant, area, action, "allow")))
    out.append(Rule("g", (R.department(tenant, "customer-care"),
                          R.scoped_role(R.role(tenant, "customer-service"), tenant))))
    out.append(Rule("g", (R.department(tenant, "accounting"),
                          R.scoped_role(R.role(tenant, "finance"), stores[0]))))
    roles = list(BUILTIN_ROLES)
    for i in range(SUB_ACCOUNTS):
        user = R.user(tenant, f"staff-{i:02d}")
        for s in stores:  # every sub-account works in every store: ~1M assignments at large
            out.append(Rule("g", (user, s)))
        out.append(Rule("g", (user, R.department(tenant, DEPARTMENTS[i % 3]))))
        role = R.role(tenant, rng.choice(roles))
        if rng.random() < 0.5:
            out.append(Rule("g", (user, R.scoped_role(role, tenant))))
        else:
            for s in rng.sample(stores, 2):
                out.append(Rule("g", (user, R.scoped_role(role, s))))
        if rng.random() < 0.1:
            out.append(Rule("p", (user, rng.choice(stores), "refunds", "approve", "allow")))
        if rng.random() < 0.05:
            out.append(Rule("p", (user, rng.choice(stores), "prices", "change", "deny")))
        if rng.random() < 0.03:
            out.append(Rule("p", (user, tenant, R.ANY, R.ANY, "deny")))
    return out


def tenants(scale: str) -> list[str]:
    return [f"t{i:05d}" for i in range(SCALES[scale] // STORES_PER_TENANT)]


def generate(url: str, scale: str, seed: int = 1, progress=lambda names: names) -> int:
    """Fill an initialised, empty database; returns the number of rules written.
    `progress` wraps the list of tenants (a progress bar, say) as they are generated."""
    rng = random.Random(seed)
    count = 0
    names = tenants(scale)
    with psycopg.connect(libpq_dsn(url)) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY policy_rule (tenant, ptype, v0, v1, v2, v3, v4, v5) "
                          "FROM STDIN") as copy:
                buffer = io.StringIO()
                for n, tenant in enumerate(progress(names)):
                    for rule in tenant_rules(rng, tenant):
                        values = list(rule.values) + [""] * (6 - len(rule.values))
                        buffer.write("\t".join([tenant, rule.ptype, *values]) + "\n")
                        count += 1
                    if n % 200 == 199:  # streamed: the platform scale is 16M rules
                        copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                copy.write(buffer.getvalue())
            cur.executemany("INSERT INTO tenant (id, name, max_sub_accounts, created_at) "
                            "VALUES (%s, %s, 99, now())", [(t, t) for t in names])
            with cur.copy("COPY sub_account (tenant, login, display_name, email, phone, note,"
                          " default_store, created_at) FROM STDIN") as copy:
                for t in tenants(scale):
                    for i in range(SUB_ACCOUNTS):
                        login = f"staff-{i:02d}"
                        copy.write_row((t, login, login, f"{login}@{t}.test", "", "",
                                        MARKETS[0], "2026-01-01T00:00:00Z"))
            with cur.copy("COPY department (tenant, id, name) FROM STDIN") as copy:
                for t in tenants(scale):
                    for d in DEPARTMENTS:
                        copy.write_row((t, d, d))
            # Each tenant at revision 1, one verifiable ledger entry saying it was generated.
            with cur.copy("COPY tenant_head (tenant, revision) FROM STDIN") as copy:
                for t in tenants(scale):
                    copy.write_row((t, 1))
            with cur.copy("COPY revision_log (tenant, revision, created_at, actor, reason, "
                          "added, removed, request_id, details, prev_hash, hash) "
                          "FROM STDIN") as copy:
                for t in tenants(scale):
                    entry = _generated_entry(t)
                    copy.write_row((t, 1, entry.created_at, entry.actor, entry.reason, "[]",
                                    "[]", "", "{}", ledger.GENESIS,
                                    ledger.entry_hash(entry, ledger.GENESIS)))
            cur.execute("ANALYZE")  # plans for a loaded table, not the empty one
    return count


GENERATED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _generated_entry(tenant: str) -> SimpleNamespace:
    return SimpleNamespace(revision=1, tenant=tenant, created_at=GENERATED_AT, actor="bench",
                           reason="generated", request_id="", added="[]", removed="[]",
                           details="{}")


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.generate --scale small|medium|large`: fill the empty PostgreSQL
    database named by AUTHZ_DATABASE_URL, with progress (a bar on a terminal, lines in a
    log). The service's CLI does not do this: the service does not depend on bench/."""
    import argparse
    import os

    from service import create_app
    from service.startup import seeding
    from service.startup.progress import progress
    from service.storage.models import db

    parser = argparse.ArgumentParser(prog="python -m bench.generate")
    parser.add_argument("--scale", choices=sorted(SCALES), required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    url = os.environ.get("AUTHZ_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        parser.error("bench data needs a PostgreSQL AUTHZ_DATABASE_URL")
    app = create_app({"AUTHZ_DATABASE_URL": url})
    with app.app_context():
        seeding.init_db()
        empty = seeding.is_empty()
        db.engine.dispose()
    if not empty:
        parser.error("the database already holds a policy")
    count = generate(url, args.scale, args.seed, progress=lambda names: progress(names, "tenants"))
    print(f"{count:,} rules generated ({args.scale})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
