"""The fast path against plain pycasbin on random policies of every rule shape, spread
over the machine's cores. Prints one JSON object: cases compared and mismatches."""

from __future__ import annotations

import argparse
import json
import os
import random
from concurrent.futures import ProcessPoolExecutor

import casbin

from harness.policies import random_requests, random_tenant
from service.config import DEFAULTS
from service.domain.decider import SECOND_FACTOR_PASSED
from service.domain.index import TenantIndex


def run(seed: int, cases: int) -> tuple[int, int]:
    rng = random.Random(seed)
    compared = mismatches = 0
    while compared < cases:
        tenant = random_tenant(rng, f"t{rng.randrange(10**6)}")
        index = TenantIndex(tenant.tenant, tenant.rules)
        oracle = casbin.Enforcer(DEFAULTS["AUTHZ_MODEL_PATH"])
        for rule in tenant.rules:
            if rule.ptype == "p":
                oracle.add_named_policy("p", *rule.values)
            else:
                oracle.add_named_grouping_policy(rule.ptype, *rule.values)
        for request in random_requests(rng, tenant, 500):
            user, store, area, action, mfa, product, amount, approval = request
            expected = oracle.enforce(user, store, area, action,
                                      SECOND_FACTOR_PASSED if mfa else "", product, amount,
                                      approval)
            mismatches += index.decide(*request) != expected
            compared += 1
    return compared, mismatches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    args = parser.parse_args()
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(run, range(workers), [args.cases // workers] * workers))
    print(json.dumps({"compared": sum(c for c, _ in results),
                      "mismatches": sum(m for _, m in results)}))


if __name__ == "__main__":
    main()
