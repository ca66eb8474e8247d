"""Creating tenants and managing their keys: one implementation for the API and the CLI.

Each is a write like any other (Authz.write: one revision, in the change log with the
actor, keys reloaded by every worker).
"""

from __future__ import annotations

from .authz import Authz
from .domain import keys
from .domain import subaccounts as S
from .domain.errors import Conflict, InvalidInput, NotFound
from .storage import keys_store
from .storage.models import Tenant, db

MAX_OVERLAP_SECONDS = 30 * 24 * 3600


def create_tenant(service: Authz, principal: keys.Principal, tenant: str, name: str = ""
                  ) -> tuple[int, dict]:
    """(revision, {"owner_key", "check_key"}): the tokens, shown this once."""
    service.require_admin(principal)
    created: dict = {}

    def edit(policy):
        if db.session.get(Tenant, tenant) is not None:
            raise Conflict(f"tenant {tenant!r} exists", {"tenant": ["already exists"]})
        db.session.add(Tenant(id=tenant, name=name))
        created["owner_key"] = keys_store.add(tenant, keys.OWNER)[1]
        created["check_key"] = keys_store.add(tenant, keys.CHECK)[1]
        S.create_tenant(policy)

    revision, _ = service.write(principal, tenant, None, edit, bump_keys=True, new_tenant=True)
    return revision, created


def _owned(tenant: str, key_id: str):
    if not keys.is_key_id(key_id):
        raise InvalidInput("not a key id", {"key_id": ["1-64 characters of a-z, 0-9 and -"]})
    row = keys_store.staged(tenant, key_id)
    if row is None:
        raise NotFound(f"no such key {key_id!r}", {"key_id": ["not found"]})
    return row


def create_key(service: Authz, principal: keys.Principal, tenant: str, scope: str,
               replaces: str | None = None, overlap_seconds: int = 86_400,
               reason: str | None = None) -> tuple[int, dict]:
    """A new key; with `replaces`, the old key keeps working for `overlap_seconds`."""
    service.require_owner(principal, tenant)
    if scope not in keys.SCOPES:
        raise InvalidInput(f"scope must be one of {keys.SCOPES}", {"scope": ["unknown"]})
    if not 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS:
        raise InvalidInput("overlap out of range", {"overlap_seconds": ["0 to 30 days"]})

    def edit(policy):
        replaced = None
        if replaces is not None:
            old = _owned(tenant, replaces)
            if old.scope != scope:
                raise InvalidInput("a key is replaced by one of the same scope",
                                   {"replaces": [f"is a {old.scope} key"]})
            if old.revoked_at is not None:
                raise Conflict("that key is already revoked or rotating",
                               {"replaces": ["already revoked or rotating"]})
            until = keys_store.end_at(old, overlap_seconds)
            replaced = {"key_id": old.id, "scope": old.scope, "valid_until": until,
                        "active": overlap_seconds > 0}
        key_id, token = keys_store.add(tenant, scope)
        return {"key_id": key_id, "scope": scope, "token": token, "replaced": replaced}

    return service.write(principal, tenant, reason, edit, bump_keys=True)


def revoke_key(service: Authz, principal: keys.Principal, tenant: str, key_id: str,
               reason: str | None = None) -> tuple[int, str]:
    """Revoke at once; the last owner key cannot be revoked, only replaced."""
    service.require_owner(principal, tenant)

    def edit(policy):
        row = _owned(tenant, key_id)
        if keys_store.has_stopped(row):
            raise Conflict("that key is already revoked", {"key_id": ["already revoked"]})
        if row.scope == keys.OWNER and row.revoked_at is None \
                and keys_store.unexpiring_count(tenant, keys.OWNER) <= 1:
            raise Conflict("the tenant's last owner key; create its replacement first",
                           {"key_id": ["last owner key"]})
        return keys_store.end_at(row, 0)

    return service.write(principal, tenant, reason, edit, bump_keys=True)
