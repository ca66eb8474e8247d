"""Time-boxed grants: a grant with an expiry stops counting at that instant, with nobody
acting.

The rule is an ordinary rule and the expiry a fact of the tenant's directory, both
written in the grant's revision. Each worker knows every pending expiry (replica.py) and,
on the first request at or after one, sweeps before deciding: one write per tenant that
removes what has expired, by actor `system:expiry`, recorded in the ledger like any other
change and propagated like any other revision. Several workers reaching the same instant
serialise on the tenant's head lock; the later ones find nothing left and write nothing. If the
database cannot take the write, each worker withdraws the expired rules from its own
copy (fail closed) and sweeps once the database is back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..domain import rules as R
from ..domain.tenant_policy import TenantPolicy, expiry_text
from ..storage import policy_store

ACTOR = "system:expiry"


def unix_seconds(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def rule_of(text: str) -> R.Rule:
    """The rule an expiry names (stored as CSV)."""
    return R.stored(text)


def pending() -> list[tuple[float, str, R.Rule]]:
    """Every expiry not yet swept, as (when, tenant, rule), soonest first."""
    return [(unix_seconds(at), tenant, rule_of(rule))
            for at, tenant, rule in policy_store.expiries()]


def sweep(now: datetime | None = None) -> list[policy_store.WriteResult]:
    """Remove every grant whose expiry has passed, one revision per tenant."""
    cutoff = expiry_text(now or datetime.now(UTC))
    tenants = sorted({tenant for at, tenant, _ in policy_store.expiries() if at <= cutoff})

    def expire(policy: TenantPolicy) -> list[str]:
        due = sorted(rule for rule, at in policy.directory.expiries.items() if at <= cutoff)
        for rule in due:
            policy.remove(R.stored(rule))
        return due

    return [policy_store.write(tenant, ACTOR, f"time-boxed grants expired by {cutoff}",
                               expire) for tenant in tenants]
