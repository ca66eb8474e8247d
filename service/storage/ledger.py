"""The ledger (R18): every committed change, hash-chained per tenant (table revision_log).

entry hash = SHA-256 of the canonical JSON of (revision, tenant, time, actor, reason,
request id, added, removed, details, previous entry's hash). Each tenant's entries form a
chain of their own, in revision order; its first entry's previous hash is GENESIS, or,
on a database migrated from one platform-wide chain (0008), the hash of the tenant's last
entry in that chain. Those earlier entries (`platform_chain`) stay one chain across
tenants, in revision order from GENESIS, as they were written. Verifying recomputes
every chain and names the first entry of each whose stored content no longer produces
its stored hash or whose link to the previous entry is broken.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, tuple_

from .models import LedgerEntry, TenantHead, db

GENESIS = "0" * 64
PLATFORM = "platform"  # the name of the chain of entries from before per-tenant chains


def iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite gives back naive datetimes; they were stored in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(row: LedgerEntry, prev_hash: str) -> str:
    content = [row.revision, row.tenant, iso_utc(row.created_at), row.actor, row.reason or "",
               row.request_id or "", row.added, row.removed, row.details or "{}", prev_hash]
    return hashlib.sha256(json.dumps(content, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def last_hash(tenant: str) -> str:
    """The tenant's newest entry's hash (inside a write, after its head row is locked)."""
    value = db.session.execute(select(LedgerEntry.hash).where(LedgerEntry.tenant == tenant)
                               .order_by(LedgerEntry.revision.desc()).limit(1)).scalar()
    return value or GENESIS


def seal(row: LedgerEntry, previous: str | None = None) -> None:
    """Chain a new entry to its tenant's newest one (`previous`: its hash, if known) before
    it is inserted."""
    row.created_at = row.created_at or datetime.now(UTC)
    row.prev_hash = previous if previous is not None else last_hash(row.tenant)
    row.hash = entry_hash(row, row.prev_hash)


@dataclass(frozen=True)
class Break:
    chain: str  # a tenant, or PLATFORM
    tenant: str
    revision: int
    problem: str


@dataclass(frozen=True)
class Verification:
    entries: int
    chains: int
    broken: tuple[Break, ...]  # the first bad entry of each broken chain

    @property
    def ok(self) -> bool:
        return not self.broken


LINK = "its link to the previous entry does not match that entry's hash"
CONTENT = "its content does not produce its hash: the entry was changed"


def _rows(platform: bool, tenant: str | None = None, batch: int = 5000
          ) -> Iterator[LedgerEntry]:
    """Entries of the platform chain in revision order, or of the tenant chains in
    (tenant, revision) order, read in batches."""
    order = (LedgerEntry.revision,) if platform else (LedgerEntry.tenant, LedgerEntry.revision)
    statement = select(LedgerEntry).where(LedgerEntry.platform_chain.is_(platform))
    if tenant is not None:
        statement = statement.where(LedgerEntry.tenant == tenant)
    after = None
    while True:
        page = statement
        if after is not None:
            page = page.where(tuple_(*order) > tuple_(*after))
        rows = db.session.execute(page.order_by(*order).limit(batch)).scalars().all()
        if not rows:
            return
        yield from rows
        after = tuple(getattr(rows[-1], c.key) for c in order)
        db.session.expunge_all()


def verify(tenant: str | None = None) -> Verification:
    """Every chain (or, with `tenant`, that tenant's chain, and its platform-chain entries'
    own hashes: their links run through other tenants' entries). A tenant whose head names
    a revision its chain does not reach has lost entries at its end."""
    broken: list[Break] = []
    anchors: dict[str, str] = {}  # tenant -> hash of its last platform-chain entry
    ends: dict[str, int] = {}  # tenant -> its newest logged revision
    count, chains = 0, 0
    try:
        previous, platform_ok = GENESIS, True
        for row in _rows(True, tenant):
            count += 1
            expected = row.prev_hash if tenant is not None else previous
            if platform_ok and tenant is None and row.prev_hash != previous:
                broken.append(Break(PLATFORM, row.tenant, row.revision, LINK))
                platform_ok = False
            elif platform_ok and entry_hash(row, expected) != row.hash:
                broken.append(Break(PLATFORM, row.tenant, row.revision, CONTENT))
                platform_ok = False
            previous = row.hash
            anchors[row.tenant] = row.hash
            ends[row.tenant] = row.revision
        chains += count > 0
        current, previous, ok = None, GENESIS, True
        for row in _rows(False, tenant):
            count += 1
            if row.tenant != current:
                current, previous, ok = row.tenant, anchors.get(row.tenant, GENESIS), True
                chains += 1
            if ok and row.prev_hash != previous:
                broken.append(Break(row.tenant, row.tenant, row.revision, LINK))
                ok = False
            elif ok and entry_hash(row, previous) != row.hash:
                broken.append(Break(row.tenant, row.tenant, row.revision, CONTENT))
                ok = False
            previous = row.hash
            ends[row.tenant] = row.revision
        heads = select(TenantHead.tenant, TenantHead.revision)
        if tenant is not None:
            heads = heads.where(TenantHead.tenant == tenant)
        for name, head in db.session.execute(heads.order_by(TenantHead.tenant)):
            end = ends.get(name, 0)
            if head > end and not any(b.chain == name for b in broken):
                broken.append(Break(name, name, end + 1, f"the tenant's head is revision "
                                    f"{head} but its ledger ends at {end}: entries were "
                                    "deleted"))
        return Verification(count, chains, tuple(broken))
    finally:
        db.session.rollback()


def query(tenant: str, *, store: str | None = None, subject: str | None = None,
          actor: str | None = None, since: datetime | None = None,
          until: datetime | None = None, page: int = 1, per_page: int = 50
          ) -> tuple[int, list[dict]]:
    """(matching entries, one page of them, newest first). `store` and `subject` match
    the entries whose rules or details name that store or sub-account."""
    statement = select(LedgerEntry).where(LedgerEntry.tenant == tenant)
    if actor:
        statement = statement.where(LedgerEntry.actor == actor)
    if since:
        statement = statement.where(LedgerEntry.created_at >= since)
    if until:
        statement = statement.where(LedgerEntry.created_at < until)
    needles = []
    if store:
        needles.append((f'"{tenant}/{store}"', f'"{tenant}/{store}~', f'"{store}"'))
    if subject:
        needles.append((f'"user:{tenant}:{subject}"', f'"{subject}"'))
    matched = []
    try:
        for row in db.session.execute(statement.order_by(LedgerEntry.revision.desc())
                                      ).scalars():
            text = row.added + row.removed + (row.details or "")
            if all(any(n in text for n in group) for group in needles):
                matched.append(row)
        start = (page - 1) * per_page
        return len(matched), [_entry(r) for r in matched[start:start + per_page]]
    finally:
        db.session.rollback()


def _entry(row: LedgerEntry) -> dict:
    def rules(text: str) -> list[str]:
        return [", ".join(item) for item in json.loads(text)]

    return {"revision": row.revision, "time": iso_utc(row.created_at), "actor": row.actor,
            "reason": row.reason, "request_id": row.request_id, "added": rules(row.added),
            "removed": rules(row.removed), "details": json.loads(row.details or "{}"),
            "hash": row.hash, "prev_hash": row.prev_hash}
