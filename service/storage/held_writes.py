"""What a worker keeps of the tenants it wrote: each one's committed state (rules parsed and
filed by kind, directory, keys, catalogue, the ledger's last hash) at a revision, so that
its next write, once it holds the tenant's head lock, starts from it instead of reading
and parsing the whole tenant again.

A write takes the tenant's entry out (no other thread of the worker can use it
meanwhile), brings it to the head it locked from the ledger entries it missed (one
query; a gap, or too many, and it is read whole instead), and puts it back at the
revision it committed. Nothing else changes a tenant: every change to its rules,
directory or keys is a revision with its ledger entry (storage/policy_store.write). With
`verify` (tests), every write also reads the tenant whole and refuses if the two differ.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

from sqlalchemy import select

from ..domain import rules as R
from ..domain.accounts import Account, Approval, Directory, TenantSettings
from ..domain.catalogue import Catalogue
from ..domain.keys import KeyRing, StagedKey
from ..domain.rules import Kind, Parsed, Rule
from ..domain.tenant_policy import CommittedRules
from .approvals_store import OPEN
from .models import LedgerEntry, db

CATCH_UP_AT_MOST = 64  # entries behind; beyond that, reading the tenant whole is cheaper


@dataclass
class HeldTenant:
    revision: int
    rules: CommittedRules
    directory: Directory  # as committed: a write edits a copy
    keys: tuple[StagedKey, ...]
    catalogue: Catalogue
    last_hash: str  # the ledger's newest entry of the tenant
    exists: bool = True  # False: no tenant row (a write may create it)

    def key_ring(self, tenant: str) -> KeyRing:
        return KeyRing(tenant, [replace(k) for k in self.keys])


class HeldWrites:
    """The held tenants of one worker, least recently written dropped beyond `size`."""

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


def committed(directory: Directory) -> Directory:
    """A directory as a fresh read would give it after commit: open approvals only."""
    if all(a.status in OPEN for a in directory.approvals.values()):
        return directory
    return replace(directory, approvals={k: a for k, a in directory.approvals.items()
                                         if a.status in OPEN})


def catch_up(tenant: str, held: HeldTenant, to: int, reload_keys, reload_catalogue
             ) -> HeldTenant | None:
    """`held` moved to revision `to` by the ledger entries after it (inside the write's
    transaction, the head locked), or None when they do not follow on from it."""
    behind = to - held.revision
    if behind < 0 or behind > CATCH_UP_AT_MOST:
        return None
    if behind == 0:
        return held
    rows = db.session.execute(
        select(LedgerEntry.revision, LedgerEntry.added, LedgerEntry.removed,
               LedgerEntry.details, LedgerEntry.hash)
        .where(LedgerEntry.tenant == tenant, LedgerEntry.revision > held.revision,
               LedgerEntry.revision <= to)
        .order_by(LedgerEntry.revision)).all()
    if [r.revision for r in rows] != list(range(held.revision + 1, to + 1)):
        return None
    directory = held.directory.copy()
    keys_changed = apps_changed = False
    for row in rows:
        added = [Rule(item[0], tuple(item[1:])) for item in json.loads(row.added)]
        removed = [Rule(item[0], tuple(item[1:])) for item in json.loads(row.removed)]
        parsed = [Parsed(R.classify(rule), tenant, rule) for rule in added]
        apps_changed |= any(p.kind is Kind.APP for p in parsed) or any(
            r.ptype == "g2" and r.values[0].startswith(R.APP_PREFIX) for r in removed)
        held.rules.apply(parsed, removed)
        details = json.loads(row.details or "{}")
        keys_changed |= "keys" in details
        apps_changed |= "app_versions" in details
        _apply_details(directory, details)
        held.last_hash = row.hash
    held.revision = to
    held.directory = committed(directory)
    if keys_changed:
        held.keys = reload_keys()
    if apps_changed:
        held.catalogue = reload_catalogue(held)
    return held


def _apply_details(directory: Directory, details: dict) -> None:
    """A ledger entry's directory changes (policy_store._save_directory wrote them)."""
    for login, change in details.get("accounts", {}).items():
        directory.accounts[login] = Account(**change["after"])
    for dept, change in details.get("departments", {}).items():
        directory.departments[dept] = change["after"]
    for name in ("expiries", "currencies", "app_versions"):
        held = getattr(directory, name)
        for item, change in details.get(name, {}).items():
            if change["after"] is None:
                held.pop(item, None)
            else:
                held[item] = change["after"]
    for key, change in details.get("approvals", {}).items():
        directory.approvals[key] = Approval(**change["after"])
    if "settings" in details:
        directory.settings = TenantSettings(**details["settings"]["after"])


def same(held: HeldTenant, fresh: HeldTenant) -> list[str]:
    """What differs between a held tenant and the same tenant read whole (verify mode)."""
    out = []
    if set(held.rules.parsed) != set(fresh.rules.parsed):
        out.append("rules")
    if held.exists != fresh.exists:
        out.append("existence")
    if held.directory != fresh.directory:
        out.append("directory")
    if sorted(held.keys, key=lambda k: k.key_id) != sorted(fresh.keys, key=lambda k: k.key_id):
        out.append("keys")
    if held.last_hash != fresh.last_hash:
        out.append("ledger hash")
    if held.catalogue.permissions != fresh.catalogue.permissions:
        out.append("catalogue")
    return out
