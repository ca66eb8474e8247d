"""One process, one database: cold start, memory, decision latency, write latency and a
differential sample against pycasbin. Prints one JSON object (run by bench/run.py)."""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import time

import casbin

from bench.generate import MARKETS, STORES_PER_TENANT, tenants
from harness.measure import rss_mb
from service import create_app
from service.domain import catalogue
from service.domain import policy_admin as A
from service.domain.decider import SECOND_FACTOR_PASSED, CheckRequest
from service.domain.keys import Caller


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--scale", required=True)
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--differential", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(5)
    out: dict = {"scale": args.scale}

    start = time.perf_counter()
    app = create_app({"AUTHZ_DATABASE_URL": args.url, "AUTHZ_LISTEN": False})
    with app.app_context():
        service = app.extensions["authz"]
        service.replica.catch_up(force=True)
        # every tenant loaded, as a worker that has served them all holds them
        for tenant in tenants(args.scale):
            service.replica.hold(tenant)
        service.replica.settle()
        out["cold_start_s"] = time.perf_counter() - start
        out["rss_mb"] = rss_mb()
        out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        names = tenants(args.scale)
        stores = MARKETS[:STORES_PER_TENANT]
        perms = [(p.area, p.action) for p in catalogue.PERMISSIONS]
        requests = [CheckRequest(rng.choice(names),
                                 rng.choice([f"staff-{rng.randrange(99):02d}"] * 8 + ["owner",
                                                                                      "nobody"]),
                                 rng.choice(stores + ["elsewhere"]), *rng.choice(perms),
                                 rng.random() < 0.5) for _ in range(args.decisions)]
        answer_many = service.decider.answer_many

        def decide(request: CheckRequest) -> bool:
            return answer_many((request,))[0] == "granted"

        timings, allowed = [], 0
        clock = time.perf_counter_ns
        for request in requests:
            t0 = clock()
            allowed += decide(request)
            timings.append((clock() - t0) / 1000)
        out["decide_p50_us"] = quantile(timings, 50)
        out["decide_p99_us"] = quantile(timings, 99)
        out["allowed_share"] = allowed / len(requests)
        # What can this user do here (R21): the whole permission list of a subject in a
        # store, as a storefront asks to draw its menus.
        everything = lambda: perms  # noqa: E731 - the owner's candidates: the catalogue
        listed = []
        for _ in range(20_000):
            tenant = rng.choice(names)
            subject = rng.choice([f"staff-{rng.randrange(99):02d}"] * 20 + ["owner"])
            store, mfa = rng.choice(stores), rng.random() < 0.5
            t0 = clock()
            service.decider.permissions_of(tenant, subject, store, mfa, everything)
            listed.append((clock() - t0) / 1000)
        out["permissions_p50_us"] = quantile(listed, 50)
        out["permissions_p99_us"] = quantile(listed, 99)
        # The 200,000 request objects above are this harness's, not the service's: left
        # alive, they make the next full garbage collection (during the writes) walk them
        # all, a 25 ms pause no serving worker has.
        del requests, timings
        gc.collect()

        admin = Caller("bench", "admin", None)
        writes = []
        for i in range(args.writes):
            if i % 2 == 0:  # grant a role, then revoke the same grant
                tenant = rng.choice(names)
                who = A.Grantee("user", f"staff-{rng.randrange(99):02d}")
                store = rng.choice(stores)
            edit = A.grant_role if i % 2 == 0 else A.revoke_role
            t0 = time.perf_counter()
            service.write(admin, tenant, "bench", lambda p, who=who, edit=edit, store=store:
                          edit(p, who, "designer", [store]))
            writes.append((time.perf_counter() - t0) * 1000)
        out["write_p50_ms"] = quantile(writes, 50)
        out["write_p99_ms"] = quantile(writes, 99)
        out["writes"] = len(writes)

        # the fast path against plain pycasbin on whole generated tenants
        mismatches = compared = 0
        sample = rng.sample(names, min(10, len(names)))
        per_tenant = max(1, args.differential // len(sample))
        for tenant in sample:
            oracle = casbin.Enforcer(service.settings.model_path)
            for rule in service.decider.rules(tenant):
                if rule.ptype == "p":
                    oracle.add_named_policy("p", *rule.values)
                else:
                    oracle.add_named_grouping_policy(rule.ptype, *rule.values)
            for _ in range(per_tenant):
                r = CheckRequest(tenant, rng.choice([f"staff-{rng.randrange(99):02d}",
                                                     "owner"]),
                                 rng.choice(stores), *rng.choice(perms), rng.random() < 0.5)
                expected = oracle.enforce(*r.casbin_values())
                mismatches += decide(r) != expected
                compared += 1
        out["differential_compared"] = compared
        out["differential_mismatches"] = mismatches
        assert SECOND_FACTOR_PASSED
    print(json.dumps(out))


if __name__ == "__main__":
    main()
