"""The unit of work: one write of one tenant, as one revision or nothing.

It locks the tenant's head, starts from the committed state this worker holds (caught up
from the ledger if a few revisions behind, read whole otherwise), runs the edit on a
TenantPolicy staged over it, holds the result to the invariants, appends the revision
through the store (domain/revisions.TenantStore) and commits. Only this module commits or
rolls back a write; the edit only stages. The same code runs over the database and over
the in-memory store the unit tests use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from ..domain import clock, invariants, keys, revisions
from ..domain.accounts import Directory
from ..domain.errors import Conflict, NotFound
from ..domain.revisions import BrokenWrite, HeldTenant, Revision, TenantStore, WriteResult
from ..domain.tenant_policy import Change, TenantPolicy, expiry_text
from ..runtime import tracing

T = TypeVar("T")


class HeldWrites:
    """The committed state of the tenants one worker wrote, least recently written
    dropped beyond `size`. A write takes its tenant's entry out (no other thread of the
    worker can use it meanwhile) and puts it back at the revision it committed. With
    `verify` (tests), every write also reads the tenant whole and refuses if they differ."""

    def __init__(self, size: int = 64, verify: bool = False):
        self.size = size
        self.verify = verify
        self._held: OrderedDict[str, HeldTenant] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, tenant: str) -> HeldTenant | None:
        with self._lock:
            return self._held.pop(tenant, None)

    def put(self, tenant: str, held: HeldTenant) -> None:
        with self._lock:
            self._held[tenant] = held
            while len(self._held) > self.size:
                self._held.popitem(last=False)


def write(store: TenantStore, tenant: str, actor: str, reason: str,
          edit: Callable[[TenantPolicy], T], *, must_exist: bool = True,
          request_id: str = "", held: HeldWrites | None = None,
          use_case: str | None = None) -> WriteResult:
    """Run `edit` on the tenant's unit of work (TenantPolicy: rules, directory, keys, the
    tenant row) and commit what it staged as one revision, or nothing.

    `held`: this worker's held writes, where the write starts; `use_case`: the named use
    case writing, recorded in the entry's details. `must_exist`: refuse (404) when the
    tenant has not been created. Every write, whoever makes it, is held to
    domain/invariants.py before it commits."""
    with tracing.span("authz.write", {"authz.tenant": tenant,
                                      "authz.use_case": use_case or ""}) as span:
        result = _write(store, tenant, actor, reason, edit, must_exist, request_id, held,
                        use_case)
        if span is not None:
            span.set_attributes({"authz.revision": result.revision,
                                 "authz.changed": result.changed})
        return result


def _write(store: TenantStore, tenant: str, actor: str, reason: str,
           edit: Callable[[TenantPolicy], T], must_exist: bool, request_id: str,
           held: HeldWrites | None, use_case: str | None) -> WriteResult:
    kept: HeldTenant | None = None
    try:
        with tracing.span("authz.write.lock"):
            revision = store.lock(tenant)
            kept = _start(store, tenant, revision - 1, held)
        if not kept.exists and must_exist:
            raise NotFound(f"no such tenant {tenant!r}", {"tenant": ["not found"]})
        loaded = kept.directory
        policy = TenantPolicy(tenant, (), loaded.copy(), kept.key_ring(tenant),
                              exists=kept.exists, revision=revision - 1,
                              catalogue=kept.catalogue, base=kept.rules)
        policy.end_expired(expiry_text(clock.utcnow()))
        with tracing.span("authz.write.edit"), store.editing():
            value = edit(policy)
        with tracing.span("authz.write.invariants"):
            invariants.require(policy, loaded)
        key_changes = tuple(policy.keys.changes())
        if not (policy.changed or key_changes or policy.created_name is not None
                or loaded != policy.directory):
            store.rollback()
            _keep(held, tenant, kept)
            return WriteResult(revision - 1, value)
        changed = revisions.changed_accounts(loaded, policy.directory)
        _require_unique_contacts(store, tenant, loaded, policy.directory, changed)
        details = revisions.directory_details(loaded, policy.directory, changed)
        if key_changes:
            details["keys"] = keys.ledger_details(key_changes)
        if use_case is not None:
            details["use_case"] = use_case
        trace = tracing.traceparent()
        if trace:  # (the other workers' catch-up links to this write: runtime/tracing.py)
            details["trace"] = trace
        with tracing.span("authz.write.commit"):
            appended = store.append(Revision(
                tenant, revision, actor, reason or "", request_id[:128], policy.created_name,
                tuple(policy.added), tuple(policy.removed), key_changes, details,
                kept.last_hash))
            store.commit()
        committed, kept = kept, None  # from here on, it is at the new revision or dropped
        committed.rules.apply(policy.added.values(), policy.removed)
        committed.revision = revision
        committed.exists = True
        committed.directory = revisions.committed(policy.directory)
        if appended.keys is not None:
            committed.keys = appended.keys
        committed.catalogue = policy.catalogue
        committed.last_hash = appended.hash
        _keep(held, tenant, committed)
        return WriteResult(revision, value, Change(
            revision, tenant, tuple(policy.added), tuple(policy.removed), bool(key_changes),
            revisions.ends(details), trace))
    except BaseException as exc:
        store.rollback()
        _keep(held, tenant, kept)
        refusal = store.refusal(exc)
        if refusal is not None:
            raise refusal from exc
        raise


def _keep(held: HeldWrites | None, tenant: str, kept: HeldTenant | None) -> None:
    """Give back what a write took: a tenant's committed state at the revision it names
    (whether or not the write committed, it stays true of that revision)."""
    if held is not None and kept is not None and kept.exists:
        held.put(tenant, kept)


def _start(store: TenantStore, tenant: str, at: int, held: HeldWrites | None) -> HeldTenant:
    """The tenant's committed state at revision `at` (its head is locked): the one this
    worker holds, caught up from the ledger if it is behind, or read whole."""
    kept = held.take(tenant) if held is not None else None
    if kept is not None:
        since = kept.revision
        kept = revisions.catch_up(
            tenant, kept, at, lambda: store.since(tenant, since, at),
            lambda: store.keys(tenant),
            lambda h: store.catalogue(h.rules.parsed, h.directory.app_versions))
    if kept is None:
        return store.load(tenant, at)
    if held is not None and held.verify:
        differs = revisions.differences(kept, store.load(tenant, at))
        if differs:
            raise BrokenWrite(f"the held copy of {tenant} at revision {at} differs from "
                              f"the store: {', '.join(differs)}")
    return kept


def _contact(field: str, value: str) -> str:
    return value.lower() if field == "email" else value


def _require_unique_contacts(store: TenantStore, tenant: str, before: Directory,
                             after: Directory, changed: list[str]) -> None:
    """R4: a sub-account's email (in any case) and phone belong to no other account, in
    this tenant or another. Asked in the write's transaction for a clear answer; two
    tenants' writes racing for one value are settled by the store (the database's unique
    indexes). Only the accounts the write changed (`changed`) can have new contacts."""
    for field in ("email", "phone"):
        values = set()
        for login in changed:
            value = _contact(field, getattr(after.accounts[login], field))
            old = before.accounts.get(login)
            if value and (old is None or _contact(field, getattr(old, field)) != value):
                values.add(value)
        if not values:
            continue
        holders = [login for login, account in after.accounts.items()
                   if _contact(field, getattr(account, field)) in values]
        if len(holders) > len(values) or store.contact_taken(tenant, field, values):
            raise Conflict(f"this {field} belongs to another account",
                           {field: ["already in use by another account"]})
