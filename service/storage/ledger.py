"""The ledger (R18): every committed change, hash-chained (table revision_log).

entry hash = SHA-256 of the canonical JSON of (revision, tenant, time, actor, reason,
request id, added, removed, details, previous entry's hash). The first entry's previous
hash is GENESIS. Verifying recomputes every hash in revision order and names the first
entry whose stored content no longer produces its stored hash, or whose link to the
previous entry is broken.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from .models import LedgerEntry, db

GENESIS = "0" * 64


def iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite gives back naive datetimes; they were stored in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(row: LedgerEntry, prev_hash: str) -> str:
    content = [row.revision, row.tenant, iso_utc(row.created_at), row.actor, row.reason or "",
               row.request_id or "", row.added, row.removed, row.details or "{}", prev_hash]
    return hashlib.sha256(json.dumps(content, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def last_hash() -> str:
    """The newest entry's hash (inside a write, after the head row is locked)."""
    value = db.session.execute(select(LedgerEntry.hash).order_by(
        LedgerEntry.revision.desc()).limit(1)).scalar()
    return value or GENESIS


def seal(row: LedgerEntry) -> None:
    """Chain a new entry to the newest one before it is inserted."""
    row.created_at = row.created_at or datetime.now(UTC)
    row.prev_hash = last_hash()
    row.hash = entry_hash(row, row.prev_hash)


@dataclass(frozen=True)
class Verification:
    entries: int
    broken_at: int | None  # revision of the first bad entry
    problem: str | None
    head_hash: str

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _rows(batch: int = 5000) -> Iterator[LedgerEntry]:
    after = -1
    while True:
        rows = db.session.execute(select(LedgerEntry).where(LedgerEntry.revision > after)
                                  .order_by(LedgerEntry.revision).limit(batch)).scalars().all()
        if not rows:
            return
        yield from rows
        after = rows[-1].revision
        db.session.expunge_all()


def verify() -> Verification:
    previous, count = GENESIS, 0
    try:
        for row in _rows():
            count += 1
            if row.prev_hash != previous:
                return Verification(count, row.revision, "its link to the previous entry "
                                    "does not match that entry's hash", previous)
            if entry_hash(row, previous) != row.hash:
                return Verification(count, row.revision, "its content does not produce its "
                                    "hash: the entry was changed", previous)
            previous = row.hash
        return Verification(count, None, None, previous)
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
