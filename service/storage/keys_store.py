"""Tenant API keys in the database."""

from __future__ import annotations

from sqlalchemy import select

from ..domain import keys
from .models import ApiKey, db


def load() -> dict[str, keys.KeyRecord]:
    """Every key that is not revoked, by key id."""
    rows = db.session.execute(select(ApiKey).where(ApiKey.revoked_at.is_(None))).scalars()
    out = {r.id: keys.KeyRecord(r.id, r.tenant, r.scope, r.secret_hash) for r in rows}
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
