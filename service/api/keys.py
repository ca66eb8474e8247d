"""A tenant's API keys: list, create (or rotate with an overlap), revoke.

Keys are changes like any other: committed as a revision (so every worker reloads its
keys) and kept in the change log with the actor. Tokens are shown once, on creation.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from ..domain import keys
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..storage import keys_store
from . import schemas
from .auth import authenticate, authz, principal
from .policy import write

blp = Blueprint("keys", __name__, url_prefix="/v1", description="A tenant's API keys")
blp.before_request(authenticate)


def _owned(tenant: str, key_id: str):
    if not keys.is_key_id(key_id):
        raise InvalidInput("not a key id", {"key_id": ["1-64 characters of a-z, 0-9 and -"]})
    row = keys_store.staged(tenant, key_id)
    if row is None:
        raise NotFound(f"no such key {key_id!r}", {"key_id": ["not found"]})
    return row


@blp.route("/tenants/<tenant>/keys", methods=["GET"])
@blp.response(200, schemas.KeyList)
def list_keys(tenant: str):
    service = authz()
    service.require_owner(principal(), tenant)
    service.require_tenant(tenant)
    return {"revision": service.replica.revision, "keys": keys_store.listing(tenant)}


@blp.route("/tenants/<tenant>/keys", methods=["POST"])
@blp.arguments(schemas.NewKey)
@blp.response(201, schemas.KeyCreated)
def create_key(body: dict, tenant: str):
    """A new owner or check key; with `replaces`, the old key keeps working for
    `overlap_seconds` (default a day) so callers can switch without an outage."""
    scope = keys.OWNER if body["scope"] == "owner" else keys.CHECK

    def edit(policy):
        replaced = None
        if "replaces" in body:
            old = _owned(tenant, body["replaces"])
            if old.scope != scope:
                raise InvalidInput("a key is replaced by one of the same scope",
                                   {"replaces": [f"is a {old.scope} key"]})
            if old.revoked_at is not None:
                raise Conflict("that key is already revoked or rotating",
                               {"replaces": ["already revoked or rotating"]})
            until = keys_store.end_at(old, body["overlap_seconds"])
            replaced = {"key_id": old.id, "scope": old.scope, "valid_until": until,
                        "active": body["overlap_seconds"] > 0}
        key_id, token = keys_store.add(tenant, scope)
        return {"key_id": key_id, "scope": scope, "token": token, "replaced": replaced}

    revision, created = write(tenant, body, edit, bump_keys=True)
    return {"revision": revision, **created}


@blp.route("/tenants/<tenant>/keys/<key_id>", methods=["DELETE"])
@blp.response(200, schemas.KeyRevoked)
def revoke_key(tenant: str, key_id: str):
    """Revoke a key at once. The last working owner key cannot be revoked: rotate it."""
    def edit(policy):
        row = _owned(tenant, key_id)
        if keys_store.has_stopped(row):
            raise Conflict("that key is already revoked", {"key_id": ["already revoked"]})
        if row.scope == keys.OWNER and row.revoked_at is None \
                and keys_store.unexpiring_count(tenant, keys.OWNER) <= 1:
            raise Conflict("the tenant's last owner key; create its replacement first",
                           {"key_id": ["last owner key"]})
        return keys_store.end_at(row, 0)

    revision, until = write(tenant, {}, edit, bump_keys=True)
    return {"revision": revision, "key_id": key_id, "valid_until": until}
