"""What the decision log says, read with the policy of its time: the deciding rule of each
entry, what a proposed policy would flip (impact preview), and grants nobody used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..domain import amounts
from ..domain.explain import explain
from ..domain.index import TenantIndex
from ..domain.keys import Caller
from ..domain.rules import Kind, Rule, classify
from ..storage import decision_log as storage
from ..storage import policy_store
from ..storage.ledger import iso_utc
from . import rights
from .authz import Authz
from .rights import operation


class Policies:
    """A tenant's policy at any revision, replayed from the ledger (which reaches back to
    the tenant's creation). The ledger is read once and replayed forward: asking for
    revisions in ascending order (prepare) costs one pass, not one pass per revision."""

    def __init__(self, tenant: str):
        self.tenant = tenant
        self._built: dict[int, TenantIndex] = {}
        self._rules: set[Rule] = set()
        self._at = 0  # the revision self._rules stands at
        self._entries: list = []  # the tenant's ledger entries read so far, in order
        self._applied = 0  # how many of them self._rules holds
        self._read_to = 0

    def _read(self, revision: int) -> None:
        if revision > self._read_to:
            self._entries += policy_store.tenant_changes(self.tenant, self._read_to, revision)
            self._read_to = revision

    def prepare(self, revisions) -> None:
        """Read the ledger once up to the newest of `revisions` and build each."""
        wanted = sorted(set(revisions))
        if wanted:
            self._read(wanted[-1])
        for revision in wanted:
            self.at(revision)

    def at(self, revision: int) -> TenantIndex:
        index = self._built.get(revision)
        if index is not None:
            return index
        if revision < self._at:  # behind the replay: start again from the beginning
            self._rules, self._at, self._applied = set(), 0, 0
        self._read(revision)
        entries = self._entries
        while self._applied < len(entries) and entries[self._applied].revision <= revision:
            entry = entries[self._applied]
            self._rules.difference_update(entry.removed)
            self._rules.update(entry.added)
            self._applied += 1
        self._at = revision
        index = self._built[revision] = TenantIndex(self.tenant, self._rules)
        return index


def _why(policies: Policies, row) -> dict:
    area, action = row.permission.split(":", 1)
    explained = explain(policies.at(row.revision), row.tenant, row.subject, row.store, area,
                        action, row.second_factor, row.product, row.amount, row.approval)
    paths = explained.denies if not row.allowed else explained.allows
    # (the reason as answered; entries from before reasons were kept: as replayed)
    return {"reason": row.reason or explained.reason, "message": explained.message,
            "rules": paths[0].rules if paths else [],
            "consistent": explained.allowed == row.allowed}


@operation(rights.READ)
def entries(service: Authz, caller: Caller, tenant: str, query: dict
            ) -> tuple[int, list[dict]]:
    """One page of the log, each entry with the rule that decided it at its revision."""
    service.require_tenant(tenant)
    total, rows = storage.find(
        tenant, store=query.get("store"), subject=query.get("subject"),
        permission=query.get("permission"), allowed=query.get("allowed"),
        reason=query.get("reason"), approval=query.get("approval"),
        since=query.get("since"), until=query.get("until"), limit=query["per_page"],
        offset=(query["page"] - 1) * query["per_page"])
    policies = Policies(tenant)
    policies.prepare(row.revision for row in rows)
    return total, [{"time": iso_utc(row.at), "last_time": iso_utc(row.last_at),
                    "count": row.count, "subject": row.subject, "store": row.store,
                    "permission": row.permission,
                    "product": row.product, "second_factor": row.second_factor,
                    "allowed": row.allowed, "revision": row.revision, "sampled": row.sampled,
                    "amount": amounts.shown(row.amount) if row.amount else None,
                    "approval": row.approval or None,
                    **_why(policies, row)} for row in rows]


def recent(tenant: str, count: int = 10_000) -> list:
    """The tenant's last `count` logged decisions, for impact(). Read before a write opens
    its transaction: nothing inside a write reads outside it."""
    return storage.find(tenant, limit=count)[1]


def impact(tenant: str, proposed: set[Rule], rows: list, limit: int = 1000) -> dict:
    """Logged decisions (recent()) replayed against a proposed policy: which flip."""
    index = TenantIndex(tenant, proposed)
    flips = []
    for row in rows:
        area, action = row.permission.split(":", 1)
        now = index.decide(f"user:{tenant}:{row.subject}", f"{tenant}/{row.store}", area,
                           action, row.second_factor, row.product, row.amount,
                           f"approval:{tenant}:{row.approval}" if row.approval else "")
        if now != row.allowed:
            flips.append({"time": iso_utc(row.at), "count": row.count, "subject": row.subject,
                          "store": row.store, "permission": row.permission,
                          "second_factor": row.second_factor, "was": row.allowed,
                          "would_be": now})
    return {"replayed": len(rows), "flips": len(flips), "items": flips[:limit]}


@operation(rights.READ)
def unused_grants(service: Authz, caller: Caller, tenant: str, days: int) -> dict:
    """Role grants and supplementary permissions that decided no logged allow in `days`
    days. Ordinary allows are sampled (AUTHZ_DECISION_LOG_SAMPLE), so rarely used grants
    may show here: a list to review, not to revoke blindly."""
    service.require_tenant(tenant)
    since = datetime.now(UTC) - timedelta(days=days)
    policies = Policies(tenant)
    used: set[str] = set()
    offset, page = 0, 5000
    while True:
        _, rows = storage.find(tenant, allowed=True, since=since, limit=page,
                                      offset=offset)
        policies.prepare(row.revision for row in rows)
        for row in rows:
            used.update(_why(policies, row)["rules"])
        if len(rows) < page:
            break
        offset += page
    current = policy_store.read(tenant).rules()
    grants = [r for r in current if classify(r) is Kind.GRANT
              or (classify(r) is Kind.DIRECT and r.values[4] == "allow")]
    return {"days": days, "grants": len(grants),
            "unused": [r.csv() for r in grants if r.csv() not in used]}
