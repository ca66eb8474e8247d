"""A tenant's API keys: list, create (or rotate with an overlap), revoke.

Keys are changes like any other: committed as a revision (so every worker reloads its
keys) and kept in the ledger with the actor. Tokens are shown once, on creation.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from ..schemas.keys import KeyCreated, KeyList, KeyRevoked, NewKey
from ..usecases import tenant_admin
from .auth import authenticate, authz, caller

blp = Blueprint("keys", __name__, url_prefix="/v1", description="A tenant's API keys")
blp.before_request(authenticate)


@blp.route("/tenants/<tenant>/keys", methods=["GET"])
@blp.response(200, KeyList)
def list_keys(tenant: str):
    """The tenant's keys: ids, scopes and validity (never secrets or hashes)."""
    service = authz()
    return {"revision": service.replica.revision(tenant),
            "keys": tenant_admin.list_keys(service, caller(), tenant)}


@blp.route("/tenants/<tenant>/keys", methods=["POST"])
@blp.arguments(NewKey)
@blp.response(201, KeyCreated)
def create_key(body: dict, tenant: str):
    """A new owner or check key; with `replaces`, the old key keeps working for
    `overlap_seconds` (default a day) so callers can switch without an outage."""
    revision, created = tenant_admin.create_key(
        authz(), caller(), tenant, body["scope"], body.get("replaces"),
        body["overlap_seconds"], body.get("reason"))
    return {"revision": revision, **created}


@blp.route("/tenants/<tenant>/keys/<key_id>", methods=["DELETE"])
@blp.response(200, KeyRevoked)
def revoke_key(tenant: str, key_id: str):
    """Revoke a key at once. The last working owner key cannot be revoked: rotate it."""
    revision, until = tenant_admin.revoke_key(authz(), caller(), tenant, key_id)
    return {"revision": revision, "key_id": key_id, "valid_until": until}
