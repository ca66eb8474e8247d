"""A tenant's committed revisions: the state a write starts from, what it appends, what is
read back to catch up, and the port (TenantStore) through which the unit of work
(usecases/unit_of_work.py) does all three.

Storage implements the port twice: on the database (storage/policy_store.SqlTenantStore)
and in memory (storage/memory_store.MemoryTenantStore, for unit tests of the use cases).
The ledger entry's details are computed here, once, from the directory before and after
(`directory_details`): the database writes its rows from them, a worker catching up
applies them (`apply_details`), and the in-memory store keeps them as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from typing import Protocol

from . import rules as R
from .accounts import Account, Approval, Directory, TenantSettings
from .catalogue import Catalogue
from .errors import ServiceError
from .keys import KeyRecord, KeyRing, StagedKey
from .rules import Kind, Parsed, Rule
from .tenant_policy import Change, CommittedRules, TenantPolicy

OPEN_APPROVALS = ("pending", "approved")  # R24: what a write may still change
CATCH_UP_AT_MOST = 64  # entries behind; beyond that, reading the tenant whole is cheaper


class BrokenWrite(RuntimeError):
    """Something inside a write ended or replaced its transaction, or the state it started
    from is not the committed one: nothing is committed."""


@dataclass
class HeldTenant:
    """A tenant's committed state at a revision: what a write starts from."""

    revision: int
    rules: CommittedRules
    directory: Directory  # as committed: a write edits a copy
    keys: tuple[StagedKey, ...]
    catalogue: Catalogue
    last_hash: str  # the ledger's newest entry of the tenant
    exists: bool = True  # False: no tenant row (a write may create it)

    def key_ring(self, tenant: str) -> KeyRing:
        return KeyRing(tenant, [replace(k) for k in self.keys])


@dataclass(frozen=True)
class Logged:
    """A ledger entry read back to catch a held tenant up."""

    revision: int
    added: tuple[Rule, ...]
    removed: tuple[Rule, ...]
    details: dict
    hash: str


@dataclass(frozen=True)
class Revision:
    """What one write appends: the rules' exact difference, the directory's and the keys'
    changes, and its ledger entry (chained to `previous_hash`)."""

    tenant: str
    number: int
    actor: str
    reason: str
    request_id: str
    created_name: str | None  # the tenant row to create, if new
    added: tuple[Rule, ...]  # in the order written (R15's "earliest assigned store")
    removed: tuple[Rule, ...]
    key_changes: tuple[StagedKey, ...]
    details: dict  # the ledger entry's: directory_details (what the store writes), keys,
    # the use case
    previous_hash: str


@dataclass(frozen=True)
class Appended:
    """What the store made of an appended revision: the entry's hash and the tenant's keys
    as stored (an end kept at the column's precision)."""

    hash: str
    keys: tuple[StagedKey, ...]


@dataclass(frozen=True)
class Snapshot:
    """What a worker loads of one tenant to decide: its rules as (ptype, values), its
    working keys and the ends of its time-boxed grants, at `revision`. The rules may
    already include changes after `revision`; replaying the ledger from it is harmless
    because each entry is an exact set difference (re-adding or re-removing is a no-op)."""

    revision: int
    exists: bool
    rules: list[tuple[str, tuple[str, ...]]]
    keys: list[KeyRecord]
    expiries: dict[str, str]


class TenantSource(Protocol):
    """What a worker reads to hold tenants and keep them current (runtime/replica.py):
    each call a read of its own, outside any write."""

    def snapshot(self, tenant: str) -> Snapshot:
        """The tenant as of one moment (exists False: no such tenant)."""

    def heads(self, tenants) -> dict[str, int]:
        """The committed revision of each of `tenants` that has one."""

    def head(self, tenant: str) -> int:
        """The tenant's committed revision (0: none)."""

    def changes(self, tenant: str, after: int, up_to: int | None = None) -> list[Change]:
        """The tenant's committed revisions after `after` (up to `up_to`), in order."""

    def working_keys(self, tenant: str) -> list[KeyRecord]:
        """The tenant's keys that still work."""

    def key(self, key_id: str) -> KeyRecord | None:
        """The key `key_id` (a tenant's or an app's) if it still works."""


@dataclass(frozen=True)
class WriteResult:
    """A write's answer: the revision the tenant is at after it, what the edit returned,
    and the change it committed (None: it changed nothing, so nothing was committed)."""

    revision: int
    value: object
    change: Change | None = None

    @property
    def changed(self) -> bool:
        return self.change is not None


class TenantStore(Protocol):
    """Where tenants' revisions are kept. Every method but `read` and `exists` runs inside
    the write's transaction, which `lock` opens and `commit` or `rollback` ends."""

    def lock(self, tenant: str) -> int:
        """Lock the tenant's head (until commit or rollback) and return the revision this
        write will be: the head plus one."""

    def load(self, tenant: str, at: int) -> HeldTenant:
        """The tenant's committed state read whole, at revision `at` (its head locked)."""

    def since(self, tenant: str, after: int, to: int) -> list[Logged]:
        """The tenant's ledger entries after revision `after` up to `to`, in order."""

    def keys(self, tenant: str) -> tuple[StagedKey, ...]:
        """The tenant's keys as committed."""

    def catalogue(self, rules: Iterable[Rule], versions: dict[str, int]) -> Catalogue:
        """The catalogue of a tenant with these rules, each app at its version."""

    def editing(self) -> AbstractContextManager:
        """Around an edit: anything inside that ends the write's transaction is refused
        (BrokenWrite) and nothing is committed."""

    def contact_taken(self, tenant: str, field: str, values: set[str]) -> bool:
        """R4: whether an account of another tenant has one of these contacts."""

    def append(self, revision: Revision) -> Appended:
        """Write the revision and its ledger entry; refuses (BrokenWrite) if the head is
        no longer the one `lock` took."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def refusal(self, exc: BaseException) -> ServiceError | None:
        """A storage failure raised inside the write, as the error the caller sees (a
        conflict, the database unavailable), or None if it is not one."""

    def read(self, tenant: str) -> TenantPolicy:
        """The tenant's committed policy and directory for reading, outside any write,
        without the grants whose end has come."""

    def exists(self, tenant: str) -> bool: ...

    def ended(self, cutoff: str) -> list[str]:
        """The tenants with a time-boxed grant whose end is at or before `cutoff`."""

    def approval(self, tenant: str, approval_id: str) -> Approval | None:
        """One approval request of the tenant, whatever its state (R24)."""

    def approvals(self, tenant: str, now: str, *, state: str | None = None,
                  subject: str | None = None, store: str | None = None,
                  permission: str | None = None, limit: int = 50, offset: int = 0
                  ) -> tuple[int, list[Approval]]:
        """(how many match, one page of them, newest first). `state`: pending, approved,
        rejected, used or expired (an open request whose time has passed at `now`)."""


def committed(directory: Directory) -> Directory:
    """A directory as a fresh read would give it after commit: open approvals only."""
    if all(a.status in OPEN_APPROVALS for a in directory.approvals.values()):
        return directory
    return replace(directory, approvals={k: a for k, a in directory.approvals.items()
                                         if a.status in OPEN_APPROVALS})


def changed_accounts(before: Directory, after: Directory) -> list[str]:
    """The sub-accounts a write created or changed."""
    return [login for login, account in after.accounts.items()
            if before.accounts.get(login) != account]


def directory_details(before: Directory, after: Directory, changed: list[str]) -> dict:
    """What changed in the directory, before and after, as the ledger records it
    (`changed`: changed_accounts)."""
    details: dict = {}
    for login in changed:
        old, account = before.accounts.get(login), after.accounts[login]
        details.setdefault("accounts", {})[login] = {
            "before": asdict(old) if old else None, "after": asdict(account)}
    for dept, name in after.departments.items():
        if before.departments.get(dept) != name:
            details.setdefault("departments", {})[dept] = {
                "before": before.departments.get(dept), "after": name}
    for name in ("expiries", "currencies", "app_versions"):
        old_map, new_map = getattr(before, name), getattr(after, name)
        for item in sorted(old_map.keys() | new_map.keys()):
            if old_map.get(item) != new_map.get(item):
                details.setdefault(name, {})[item] = {"before": old_map.get(item),
                                                      "after": new_map.get(item)}
    for key, approval in after.approvals.items():
        old = before.approvals.get(key)
        if old != approval:
            details.setdefault("approvals", {})[key] = {
                "before": asdict(old) if old else None, "after": asdict(approval)}
    if before.settings != after.settings:
        details["settings"] = {"before": asdict(before.settings),
                               "after": asdict(after.settings)}
    return details


def apply_details(directory: Directory, details: dict) -> None:
    """A ledger entry's directory changes (directory_details), applied to `directory`."""
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


def ends(details: dict) -> tuple[tuple[str, str | None], ...]:
    """A ledger entry's expiry changes (its details' "expiries"), as Change.ends."""
    return tuple(sorted((rule, change["after"])
                        for rule, change in details.get("expiries", {}).items()))


def catch_up(tenant: str, held: HeldTenant, to: int, logged: Callable[[], list[Logged]],
             reload_keys: Callable[[], tuple[StagedKey, ...]],
             reload_catalogue: Callable[[HeldTenant], Catalogue]) -> HeldTenant | None:
    """`held` moved to revision `to` by the ledger entries after it (`logged` reads them,
    inside the write's transaction, the head locked), or None when they do not follow on
    from it or are too many."""
    behind = to - held.revision
    if behind < 0 or behind > CATCH_UP_AT_MOST:
        return None
    if behind == 0:
        return held
    entries = logged()
    if [e.revision for e in entries] != list(range(held.revision + 1, to + 1)):
        return None
    directory = held.directory.copy()
    keys_changed = apps_changed = False
    for entry in entries:
        parsed = [Parsed(R.classify(rule), tenant, rule) for rule in entry.added]
        apps_changed |= any(p.kind is Kind.APP for p in parsed) or any(
            r.ptype == "g2" and r.values[0].startswith(R.APP_PREFIX) for r in entry.removed)
        held.rules.apply(parsed, entry.removed)
        keys_changed |= "keys" in entry.details
        apps_changed |= "app_versions" in entry.details
        apply_details(directory, entry.details)
        held.last_hash = entry.hash
    held.revision = to
    held.directory = committed(directory)
    if keys_changed:
        held.keys = reload_keys()
    if apps_changed:
        held.catalogue = reload_catalogue(held)
    return held


def differences(held: HeldTenant, fresh: HeldTenant) -> list[str]:
    """What differs between a held tenant and the same tenant read whole (verify mode)."""
    out = []
    if list(held.rules.parsed) != list(fresh.rules.parsed):
        out.append("rules" if set(held.rules.parsed) != set(fresh.rules.parsed)
                   else "the rules' order")
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
