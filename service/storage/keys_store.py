"""Tenant API keys in the database: only the SHA-256 of each token is stored.

A key stops working at its `revoked_at`; a time in the future is the end of a rotation's
overlap, during which the old and the new key both work.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import or_, select, update

from ..domain import keys
from .models import ApiKey, db, utcnow


def _unix_seconds(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they were stored in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def record(row: ApiKey) -> keys.KeyRecord:
    """A key row as the service holds it (a tenant's key, or an app's)."""
    return keys.KeyRecord(row.id, row.tenant, row.scope, row.secret_hash,
                          _unix_seconds(row.revoked_at), row.app)


def find(key_id: str) -> keys.KeyRecord | None:
    """The key `key_id` if it still works: a worker looks a key up the first time it sees
    it, rather than holding every key of the platform."""
    try:
        row = db.session.execute(select(ApiKey).where(
            ApiKey.id == key_id,
            or_(ApiKey.revoked_at.is_(None), ApiKey.revoked_at > utcnow()))).scalar()
        return None if row is None else record(row)
    finally:
        db.session.rollback()


def records(tenant: str) -> list[keys.KeyRecord]:
    """The tenant's keys that still work (read inside the caller's transaction)."""
    return [keys.KeyRecord(key_id, tenant, scope, secret_hash, _unix_seconds(revoked_at))
            for key_id, scope, secret_hash, revoked_at in db.session.execute(
                select(ApiKey.id, ApiKey.scope, ApiKey.secret_hash, ApiKey.revoked_at).where(
                    ApiKey.tenant == tenant,
                    or_(ApiKey.revoked_at.is_(None), ApiKey.revoked_at > utcnow())))]


def load(tenant: str) -> list[keys.KeyRecord]:
    """records(), in a read transaction of its own."""
    try:
        return records(tenant)
    finally:
        db.session.rollback()


def staged(tenant: str) -> tuple[keys.StagedKey, ...]:
    """The tenant's keys as committed, for a write's unit of work (inside its
    transaction). Columns, not ORM objects: a key row the session already holds (the
    request's own key, looked up before the write) must not stand in for what is stored."""
    rows = db.session.execute(
        select(ApiKey.id, ApiKey.scope, ApiKey.secret_hash, ApiKey.revoked_at)
        .where(ApiKey.tenant == tenant).order_by(ApiKey.id)).all()
    return tuple(keys.StagedKey(r.id, r.scope, r.secret_hash, _unix_seconds(r.revoked_at))
                 for r in rows)


def save(tenant: str, changes) -> None:
    """Write the keys a unit of work created or ended."""
    for key in changes:
        until = None if key.valid_until is None else datetime.fromtimestamp(key.valid_until, UTC)
        if key.created:
            db.session.add(ApiKey(id=key.key_id, tenant=tenant, scope=key.scope,
                                  secret_hash=key.secret_hash, revoked_at=until))
        else:
            db.session.execute(update(ApiKey).where(ApiKey.id == key.key_id,
                                                    ApiKey.tenant == tenant)
                               .values(revoked_at=until))


def listing(tenant: str) -> list[dict]:
    """The tenant's keys, newest first, without secrets or hashes."""
    now = utcnow().timestamp()
    rows = db.session.execute(select(ApiKey).where(ApiKey.tenant == tenant)
                              .order_by(ApiKey.created_at.desc(), ApiKey.id)).scalars()
    out = []
    for r in rows:
        until = _unix_seconds(r.revoked_at)
        out.append({"key_id": r.id, "scope": r.scope,
                    "created_at": _iso(_unix_seconds(r.created_at)), "valid_until": _iso(until),
                    "active": until is None or until > now})
    db.session.rollback()
    return out


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()
