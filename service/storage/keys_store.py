"""Tenant API keys in the database: only the SHA-256 of each token is stored.

A key stops working at its `revoked_at`; a time in the future is the end of a rotation's
overlap, during which the old and the new key both work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select

from ..domain import keys
from .models import ApiKey, db, utcnow


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they were stored in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def load() -> dict[str, keys.KeyRecord]:
    """Every key that still works, by key id."""
    rows = db.session.execute(select(ApiKey).where(
        or_(ApiKey.revoked_at.is_(None), ApiKey.revoked_at > utcnow()))).scalars()
    out = {r.id: keys.KeyRecord(r.id, r.tenant, r.scope, r.secret_hash, _epoch(r.revoked_at))
           for r in rows}
    db.session.rollback()
    return out


def add(tenant: str, scope: str, token: str | None = None) -> tuple[str, str]:
    """Stage a key in the current transaction; returns (key id, token). The caller commits."""
    if token is None:
        key_id, token = keys.new_token()
    else:
        key_id = keys.key_id_of(token)
        if key_id is None:
            raise ValueError("a fixed token must look like <id>.<secret>")
    db.session.add(ApiKey(id=key_id, tenant=tenant, scope=scope, secret_hash=keys.digest(token)))
    return key_id, token


def listing(tenant: str) -> list[dict]:
    """The tenant's keys, newest first, without secrets or hashes."""
    now = utcnow().timestamp()
    rows = db.session.execute(select(ApiKey).where(ApiKey.tenant == tenant)
                              .order_by(ApiKey.created_at.desc(), ApiKey.id)).scalars()
    out = []
    for r in rows:
        until = _epoch(r.revoked_at)
        out.append({"key_id": r.id, "scope": r.scope,
                    "created_at": _iso(_epoch(r.created_at)), "valid_until": _iso(until),
                    "active": until is None or until > now})
    db.session.rollback()
    return out


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def staged(tenant: str, key_id: str) -> ApiKey | None:
    """The tenant's key row, in the current transaction (None if another tenant's)."""
    row = db.session.get(ApiKey, key_id)
    return row if row is not None and row.tenant == tenant else None


def unexpiring_count(tenant: str, scope: str) -> int:
    """Keys of the scope that are neither revoked nor on their way out."""
    return len(db.session.execute(select(ApiKey.id).where(
        ApiKey.tenant == tenant, ApiKey.scope == scope, ApiKey.revoked_at.is_(None))).all())


def has_stopped(row: ApiKey) -> bool:
    until = _epoch(row.revoked_at)
    return until is not None and until <= utcnow().timestamp()


def end_at(row: ApiKey, after_seconds: int) -> str:
    """Make the key stop working `after_seconds` from now (0: at once); the ISO time."""
    moment = utcnow() + timedelta(seconds=after_seconds)
    row.revoked_at = moment
    return moment.isoformat()
