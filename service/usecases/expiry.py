"""Time-boxed grants: a grant with an end stops counting at that instant, with nobody
acting.

The rule is an ordinary rule and its end a fact of the tenant's directory, both written in
the grant's revision (the ledger entry carries the end, tenant_policy.Change.ends). The end
is part of the decision: each worker holding the tenant withdraws the grant from its own
copy at that instant, in memory (runtime/replica.py), and every write starts without the
ended grants (TenantPolicy.end_expired). The sweep below only tidies: one write per
tenant that removes what has ended, by actor `system:expiry`, recorded in the ledger like
any other change. Several workers sweeping at once serialise on the tenant's head lock;
the later ones find nothing left and write nothing.
"""

from __future__ import annotations

from datetime import datetime

from ..domain import clock
from ..domain import rules as R
from ..domain.revisions import TenantStore, WriteResult
from ..domain.tenant_policy import TenantPolicy, expiry_text
from . import unit_of_work

ACTOR = "system:expiry"


def sweep(store: TenantStore, now: datetime | None = None) -> list[WriteResult]:
    """Remove every grant whose expiry has passed, one revision per tenant."""
    cutoff = expiry_text(now or clock.utcnow())
    tenants = store.ended(cutoff)

    def expire(policy: TenantPolicy) -> list[str]:
        due = sorted(rule for rule, at in policy.directory.expiries.items() if at <= cutoff)
        for rule in due:
            policy.remove(R.stored(rule))
        return due

    return [unit_of_work.write(store, tenant, ACTOR,
                               f"time-boxed grants expired by {cutoff}", expire)
            for tenant in tenants]


def sweep_written(store: TenantStore) -> list[tuple[str, int]]:
    """sweep(), as the (tenant, revision)s it wrote: what a worker's sweeper or follower
    runs (runtime/background.py) when a grant ended in its copy."""
    return [(r.change.tenant, r.revision) for r in sweep(store) if r.change is not None]
