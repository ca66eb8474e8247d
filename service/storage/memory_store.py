"""The tenants' revisions in memory (domain/revisions.TenantStore): what the unit tests of
the use cases write through, with the database's semantics where a use case can see them
(one revision at a time per store, rules in the order they were added, the ledger chained
by the same hash, R4's contacts unique across tenants, nothing kept of a write that did
not commit). The port's contract is checked against both stores by one suite
(tests/api/test_tenant_store_contract.py)."""

from __future__ import annotations

import json
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import SimpleNamespace

from ..domain import apps, clock
from ..domain import rules as R
from ..domain.accounts import Approval, Directory
from ..domain.apps import AppVersion
from ..domain.catalogue import BUILT_IN, Catalogue
from ..domain.errors import ServiceError
from ..domain.keys import KeyRecord, StagedKey
from ..domain.revisions import (
    OPEN_APPROVALS,
    Appended,
    BrokenWrite,
    HeldTenant,
    Logged,
    Revision,
    Snapshot,
    apply_details,
    committed,
    ends,
)
from ..domain.rules import Rule
from ..domain.tenant_policy import Change, CommittedRules, TenantPolicy, expiry_text
from .ledger import GENESIS, entry_hash
from .policy_store import encode_rules


@dataclass
class _Tenant:
    name: str
    rules: dict[Rule, None] = field(default_factory=dict)  # oldest first
    directory: Directory = field(default_factory=Directory)
    keys: dict[str, StagedKey] = field(default_factory=dict)
    ledger: list[Logged] = field(default_factory=list)
    approvals: dict[str, Approval] = field(default_factory=dict)  # every one, any state


class MemoryTenantStore:
    """Tenants in memory. `apps`: the catalogue versions the store knows, by (app, version)."""

    def __init__(self, app_versions: tuple[AppVersion, ...] = ()):
        self._tenants: dict[str, _Tenant] = {}
        self._heads: dict[str, int] = {}
        self._apps = {(v.app, v.version): v for v in app_versions}
        self._lock = threading.Lock()  # the write's "transaction": one at a time
        self._locked: tuple[str, int] | None = None  # (tenant, revision) being written
        self._pending: Revision | None = None  # appended, not committed
        self._hash = ""  # the pending revision's ledger hash

    # -- the write's transaction ------------------------------------------------------------
    def lock(self, tenant: str) -> int:
        self._lock.acquire()
        self._locked = (tenant, self._heads.get(tenant, 0) + 1)
        return self._locked[1]

    def load(self, tenant: str, at: int) -> HeldTenant:
        stored = self._tenants.get(tenant)
        if stored is None:
            return HeldTenant(at, CommittedRules(tenant), Directory(), (), BUILT_IN, GENESIS,
                              exists=False)
        return HeldTenant(at, CommittedRules(tenant, stored.rules), stored.directory.copy(),
                          self.keys(tenant),
                          self.catalogue(stored.rules, stored.directory.app_versions),
                          stored.ledger[-1].hash if stored.ledger else GENESIS)

    def since(self, tenant: str, after: int, to: int) -> list[Logged]:
        stored = self._tenants.get(tenant)
        return [e for e in (stored.ledger if stored else ()) if after < e.revision <= to]

    def keys(self, tenant: str) -> tuple[StagedKey, ...]:
        stored = self._tenants.get(tenant)
        return tuple(replace(k) for _, k in sorted(stored.keys.items())) if stored else ()

    def catalogue(self, rules, versions: dict[str, int]) -> Catalogue:
        installed = [r.values[0][len(R.APP_PREFIX):] for r in rules
                     if r.ptype == "g2" and r.values[0].startswith(R.APP_PREFIX)]
        if not installed:
            return BUILT_IN
        return apps.catalogue_of({a: self._version(a, versions.get(a)) for a in installed})

    def editing(self):
        return nullcontext()  # an edit has no way to reach the transaction here

    def contact_taken(self, tenant: str, field: str, values: set[str]) -> bool:
        for name, stored in self._tenants.items():
            if name == tenant:
                continue
            for account in stored.directory.accounts.values():
                value = getattr(account, field)
                if (value.lower() if field == "email" else value) in values:
                    return True
        return False

    def append(self, revision: Revision) -> Appended:
        if self._locked != (revision.tenant, revision.number):
            raise BrokenWrite(f"the head is no longer revision {revision.number} at commit")
        self._pending = revision
        row = SimpleNamespace(
            revision=revision.number, tenant=revision.tenant, created_at=datetime.now(UTC),
            actor=revision.actor, reason=revision.reason, request_id=revision.request_id,
            added=encode_rules(revision.added, in_order=True),
            removed=encode_rules(revision.removed),
            details=json.dumps(revision.details, sort_keys=True, default=str))
        self._hash = entry_hash(row, revision.previous_hash)
        keys = None
        if revision.key_changes:
            held = {k.key_id: k for k in self.keys(revision.tenant)}
            held.update({k.key_id: replace(k, created=False) for k in revision.key_changes})
            keys = tuple(held[k] for k in sorted(held))
        return Appended(self._hash, keys)

    def commit(self) -> None:
        revision, self._pending = self._pending, None
        if revision is not None:
            stored = self._tenants.get(revision.tenant)
            if stored is None:
                stored = self._tenants[revision.tenant] = _Tenant(revision.created_name or "")
            for rule in revision.removed:
                stored.rules.pop(rule, None)
            for rule in revision.added:
                stored.rules[rule] = None
            directory = stored.directory.copy()
            apply_details(directory, revision.details)
            stored.directory = committed(directory)
            for key in revision.key_changes:
                stored.keys[key.key_id] = replace(key, created=False)
            for key, change in revision.details.get("approvals", {}).items():
                stored.approvals[key] = Approval(**change["after"])
            stored.ledger.append(Logged(revision.number, revision.added,
                                        tuple(sorted(revision.removed)),
                                        json.loads(json.dumps(revision.details, default=str)),
                                        self._hash))
            self._heads[revision.tenant] = revision.number
        self._release()

    def rollback(self) -> None:
        self._pending = None
        self._release()

    def refusal(self, exc: BaseException) -> ServiceError | None:
        return None  # nothing in memory fails the way a database does

    def _release(self) -> None:
        if self._locked is not None:
            self._locked = None
            self._lock.release()

    # -- reads ------------------------------------------------------------------------------
    def read(self, tenant: str) -> TenantPolicy:
        held = self.load(tenant, self._heads.get(tenant, 0))
        policy = TenantPolicy(tenant, held.rules.parsed, held.directory,
                              revision=held.revision, catalogue=held.catalogue)
        policy.end_expired(expiry_text(clock.utcnow()))  # what is in force now
        return policy

    def exists(self, tenant: str) -> bool:
        return tenant in self._tenants

    def head(self, tenant: str) -> int:
        return self._heads.get(tenant, 0)

    def heads(self, tenants) -> dict[str, int]:
        return {t: self._heads[t] for t in tenants if t in self._heads}

    def ended(self, cutoff: str) -> list[str]:
        return sorted(name for name, stored in self._tenants.items()
                      if any(at <= cutoff for at in stored.directory.expiries.values()))

    def approval(self, tenant: str, approval_id: str) -> Approval | None:
        stored = self._tenants.get(tenant)
        found = stored.approvals.get(approval_id) if stored else None
        return replace(found) if found is not None else None

    def approvals(self, tenant: str, now: str, *, state: str | None = None,
                  subject: str | None = None, store: str | None = None,
                  permission: str | None = None, limit: int = 50, offset: int = 0
                  ) -> tuple[int, list[Approval]]:
        stored = self._tenants.get(tenant)
        found = []
        for a in (stored.approvals.values() if stored else ()):
            if state == "expired":
                wanted = a.status in OPEN_APPROVALS and a.expires_at <= now
            elif state in OPEN_APPROVALS:
                wanted = a.status == state and a.expires_at > now
            else:
                wanted = state is None or a.status == state
            if wanted and all(v is None or getattr(a, k) == v for k, v in (
                    ("subject", subject), ("store", store), ("permission", permission))):
                found.append(replace(a))
        found.sort(key=lambda a: a.id)
        found.sort(key=lambda a: a.requested_at, reverse=True)
        return len(found), found[offset:offset + limit]

    # -- the worker's reads (domain/revisions.TenantSource) --------------------------------
    def snapshot(self, tenant: str) -> Snapshot:
        stored = self._tenants.get(tenant)
        if stored is None:
            return Snapshot(0, False, [], [], {})
        return Snapshot(self._heads[tenant], True, [(r.ptype, r.values) for r in stored.rules],
                        self.working_keys(tenant), dict(stored.directory.expiries))

    def changes(self, tenant: str, after: int, up_to: int | None = None) -> list[Change]:
        stored = self._tenants.get(tenant)
        return [Change(e.revision, tenant, e.added, e.removed, "keys" in e.details,
                       ends(e.details), e.details.get("trace", ""))
                for e in (stored.ledger if stored else ())
                if e.revision > after and (up_to is None or e.revision <= up_to)]

    def working_keys(self, tenant: str) -> list[KeyRecord]:
        stored = self._tenants.get(tenant)
        now = clock.now()
        return [KeyRecord(k.key_id, tenant, k.scope, k.secret_hash, k.valid_until)
                for k in (stored.keys.values() if stored else ())
                if k.valid_until is None or k.valid_until > now]

    def key(self, key_id: str) -> KeyRecord | None:
        for tenant in self._tenants:
            for record in self.working_keys(tenant):
                if record.key_id == key_id:
                    return record
        return None

    def ledger(self, tenant: str) -> list[Logged]:
        stored = self._tenants.get(tenant)
        return list(stored.ledger) if stored else []

    def _version(self, app: str, version: int | None) -> AppVersion:
        if version is None:
            version = max(v for a, v in self._apps if a == app)
        return self._apps[(app, version)]
