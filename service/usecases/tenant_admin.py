"""Creating tenants and managing their keys: one implementation for the API and the CLI.

Each is a write like any other (Authz.write: one revision, in the ledger with the
actor, keys reloaded by every worker).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ..domain import keys
from ..domain import subaccounts as S
from ..domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..domain.tenant_policy import TenantPolicy
from ..storage import keys_store
from . import rights
from .authz import Authz
from .rights import operation


@operation(rights.CREATE_TENANT)
def create_tenant(service: Authz, caller: keys.Caller, tenant: str, name: str = ""
                  ) -> tuple[int, dict]:
    """(revision, {"owner_key", "check_key"}): the tokens, shown this once."""
    created: dict = {}

    def edit(policy: TenantPolicy):
        policy.create(name)
        created["owner_key"] = policy.keys.add(keys.OWNER)[1]
        created["check_key"] = policy.keys.add(keys.CHECK)[1]
        S.create_tenant(policy)

    revision, _ = service.write(caller, tenant, None, edit, must_exist=False,
                                use_case=rights.CREATE_TENANT)
    return revision, created


def _owned(policy: TenantPolicy, key_id: str) -> keys.StagedKey:
    if not keys.is_key_id(key_id):
        raise InvalidInput("not a key id", {"key_id": ["1-64 characters of a-z, 0-9 and -"]})
    row = policy.keys.get(key_id)
    if row is None:
        raise NotFound(f"no such key {key_id!r}", {"key_id": ["not found"]})
    return row


def _end(policy: TenantPolicy, row: keys.StagedKey, after_seconds: int) -> str:
    """Make the key stop working `after_seconds` from now (0: at once); the ISO time."""
    at = time.time() + after_seconds
    policy.keys.end(row.key_id, at)
    return datetime.fromtimestamp(at, UTC).isoformat()


@operation(rights.KEYS_WRITE)
def create_key(service: Authz, caller: keys.Caller, tenant: str, scope: str,
               replaces: str | None = None, overlap_seconds: int = 86_400,
               reason: str | None = None) -> tuple[int, dict]:
    """A new key; with `replaces`, the old key keeps working for `overlap_seconds`."""
    if scope not in keys.SCOPES:
        raise InvalidInput(f"scope must be one of {keys.SCOPES}", {"scope": ["unknown"]})
    if not 0 <= overlap_seconds <= keys.MAX_OVERLAP_SECONDS:
        raise InvalidInput("overlap out of range", {"overlap_seconds": ["0 to 30 days"]})

    def edit(policy: TenantPolicy):
        replaced = None
        if replaces is not None:
            old = _owned(policy, replaces)
            if old.scope != scope:
                raise InvalidInput("a key is replaced by one of the same scope",
                                   {"replaces": [f"is a {old.scope} key"]})
            if old.valid_until is not None:
                raise Conflict("that key is already revoked or rotating",
                               {"replaces": ["already revoked or rotating"]})
            until = _end(policy, old, overlap_seconds)
            replaced = {"key_id": old.key_id, "scope": old.scope, "valid_until": until,
                        "active": overlap_seconds > 0}
        key_id, token = policy.keys.add(scope)
        return {"key_id": key_id, "scope": scope, "token": token, "replaced": replaced}

    return service.write(caller, tenant, reason, edit, use_case=rights.KEYS_WRITE)


@operation(rights.KEYS_WRITE)
def revoke_key(service: Authz, caller: keys.Caller, tenant: str, key_id: str,
               reason: str | None = None) -> tuple[int, str]:
    """Revoke at once; the last owner key cannot be revoked, only replaced."""

    def edit(policy: TenantPolicy):
        row = _owned(policy, key_id)
        if row.valid_until is not None and row.valid_until <= time.time():
            raise Conflict("that key is already revoked", {"key_id": ["already revoked"]})
        if row.scope == keys.OWNER and row.valid_until is None \
                and policy.keys.active_count(keys.OWNER) <= 1:
            raise Conflict("the tenant's last owner key; create its replacement first",
                           {"key_id": ["last owner key"]})
        return _end(policy, row, 0)

    return service.write(caller, tenant, reason, edit, use_case=rights.KEYS_WRITE)


@operation(rights.KEYS_READ)
def list_keys(service: Authz, caller: keys.Caller, tenant: str) -> list[dict]:
    """The tenant's keys, newest first, without secrets or digests."""
    service.require_tenant(tenant)
    return keys_store.listing(tenant)


@operation(rights.SETTINGS)
def update_settings(service: Authz, caller: keys.Caller, tenant: str, body: dict
                    ) -> tuple[int, TenantPolicy]:
    """Step-up (R10) and the console language are the owner's; the sub-account cap (R11)
    is the platform's plan: rights.SET_CAP."""
    if "max_sub_accounts" in body and not rights.allowed(caller, rights.SET_CAP, tenant):
        raise Forbidden("the sub-account limit is set by the platform admin",
                        {"max_sub_accounts": ["admin only"]})

    def edit(policy: TenantPolicy) -> TenantPolicy:
        if "max_sub_accounts" in body:
            S.set_max_sub_accounts(policy, body["max_sub_accounts"])
        if "step_up" in body:
            S.set_step_up(policy, body["step_up"])
        if "language" in body:
            S.set_language(policy, body["language"])
        return policy

    return service.write(caller, tenant, body.get("reason"), edit, use_case=rights.SETTINGS)
