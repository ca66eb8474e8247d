"""Admin API for the policy: tenants, stores, role templates, grants, supplementary
permissions, denies, store assignment, departments and status. Views decode, call a
named use case (usecases/policy_edits.py, subaccounts.py, tenant_admin.py), and encode;
every write answers the new revision."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from ..domain import policy_admin as A
from ..domain import policy_files as PF
from ..domain import rules as R
from ..domain import subaccounts as S
from ..schemas.base import Revision
from ..schemas.policy import (
    AssignmentReport,
    Direct,
    ExpiringGrants,
    Grant,
    NewRole,
    NewStore,
    NewTenant,
    Policy,
    Reason,
    RolePermissions,
    Roles,
    Status,
    StoreCurrency,
    StoreMode,
    StoreProducts,
    StoreRevoked,
    Stores,
    TenantCreated,
)
from ..schemas.policy_files import ExportDocument
from ..schemas.subaccounts import DryRunQuery
from ..usecases import policy_edits, subaccounts, tenant_admin
from .auth import authenticate, authz, caller

blp = Blueprint("policy", __name__, url_prefix="/v1", description="Edit a tenant's policy")
blp.before_request(authenticate)


def read(tenant: str) -> A.TenantPolicy:
    """The tenant's committed policy, for its owner or auditor (or the admin)."""
    return authz().read(caller(), tenant)


def _who(body: dict) -> A.Grantee:
    return A.grantee(body.get("subject"), body.get("department"))


@blp.route("/tenants", methods=["POST"])
@blp.arguments(NewTenant)
@blp.response(201, TenantCreated)
def create_tenant(body: dict):
    """Create a tenant with its owner and check keys (platform admin only)."""
    revision, created = tenant_admin.create_tenant(authz(), caller(), body["tenant"],
                                                   body["name"])
    return {"tenant": body["tenant"], "revision": revision, **created}


@blp.route("/tenants/<tenant>/policy", methods=["GET"])
@blp.response(200, Policy)
def get_policy(tenant: str):
    """The tenant's stores, roles, grants, supplementary permissions and denies."""
    policy = read(tenant)
    return {"revision": policy.revision, **A.describe(policy)}


@blp.route("/tenants/<tenant>/export.csv", methods=["GET"])
@blp.response(200, content_type="text/csv")
def export_csv(tenant: str):
    """The tenant's rules as Casbin CSV, sorted: read it with policies/model.conf (R20)."""
    return Response(R.csv_text(read(tenant).rules()), mimetype="text/csv")


@blp.route("/tenants/<tenant>/export.json", methods=["GET"])
@blp.response(200, ExportDocument)
def export_json(tenant: str):
    """The export with what the CSV does not hold (profiles, department names, settings,
    expiries): import both to restore the tenant. The CSV is byte for byte export.csv."""
    policy = read(tenant)
    return {"tenant": tenant, "revision": policy.revision,
            "csv": R.csv_text(policy.rules()), "directory": PF.directory_document(policy)}


@blp.route("/tenants/<tenant>/stores", methods=["POST"])
@blp.arguments(NewStore)
@blp.response(201, Revision)
def create_store(body: dict, tenant: str):
    """Add a store (a Casbin domain) to the tenant; the owner acts in it at once. Its
    currency (R22) is USD unless given."""
    return {"revision": policy_edits.create_store(
        authz(), caller(), tenant, body["store"], body.get("currency"),
        reason=body.get("reason"))[0]}


@blp.route("/tenants/<tenant>/stores/<store>/currency", methods=["PUT"])
@blp.arguments(StoreCurrency)
@blp.response(200, Revision)
def set_currency(body: dict, tenant: str, store: str):
    """The currency of the store's amounts and limits (R22)."""
    return {"revision": policy_edits.set_currency(authz(), caller(), tenant, store,
                                                  body["currency"],
                                                  reason=body.get("reason"))[0]}


@blp.route("/tenants/<tenant>/stores/<store>", methods=["DELETE"])
@blp.arguments(DryRunQuery, location="query")
@blp.response(200, StoreRevoked)
def revoke_store(query: dict, tenant: str, store: str):
    """Revoke a store: every grant, assignment and deny in it goes; defaults move to the
    earliest assigned remaining store; a sub-account left with none is disabled (R16).
    With ?dry_run=true: the same report (the cascade), nothing written."""
    if query["dry_run"]:
        revision, report = policy_edits.revoke_store.preview(authz(), caller(), tenant, store)
    else:
        revision, report = policy_edits.revoke_store(authz(), caller(), tenant, store)
    return {"revision": revision, "dry_run": query["dry_run"], **report}


@blp.route("/tenants/<tenant>/stores/<store>/mode", methods=["PUT"])
@blp.arguments(StoreMode)
@blp.response(200, StoreProducts)
def set_store_mode(body: dict, tenant: str, store: str):
    """Run the store by store or by product (R17); an explicit, logged change."""
    revision, products = policy_edits.set_store_mode(authz(), caller(), tenant, store,
                                                     body["mode"], reason=body.get("reason"))
    return {"revision": revision, **products}


@blp.route("/tenants/<tenant>/stores/<store>/products", methods=["GET"])
@blp.response(200, StoreProducts)
def store_products(tenant: str, store: str):
    """The store's mode and each product's operators."""
    policy = read(tenant)
    return {"revision": policy.revision, **S.products(policy, store)}


@blp.route("/tenants/<tenant>/stores/<store>/products/<product>/operators/<login>",
           methods=["PUT"])
@blp.arguments(Reason)
@blp.response(200, Revision)
def add_product_operator(body: dict, tenant: str, store: str, product: str, login: str):
    """Make a sub-account an operator of one product (R17)."""
    return {"revision": policy_edits.add_product_operator(
        authz(), caller(), tenant, store, product, login, reason=body.get("reason"))[0]}


@blp.route("/tenants/<tenant>/stores/<store>/products/<product>/operators/<login>",
           methods=["DELETE"])
@blp.response(200, Revision)
def remove_product_operator(tenant: str, store: str, product: str, login: str):
    """Take one product of a by-product store away from an operator (R17)."""
    return {"revision": policy_edits.remove_product_operator(
        authz(), caller(), tenant, store, product, login)[0]}


@blp.route("/tenants/<tenant>/roles", methods=["GET"])
@blp.response(200, Roles)
def list_roles(tenant: str):
    """The tenant's role templates and their permissions."""
    policy = read(tenant)
    roles, limits = policy.roles(), A.describe_limits(policy)
    return {"revision": policy.revision,
            "roles": [{"role": r, "permissions": sorted(p), "limits": limits.get(r, {})}
                      for r, p in sorted(roles.items())]}


@blp.route("/tenants/<tenant>/roles", methods=["POST"])
@blp.arguments(NewRole)
@blp.response(201, Revision)
def create_role(body: dict, tenant: str):
    """A role template: defined once, granted in any of the tenant's stores (R6)."""
    return {"revision": policy_edits.create_role(
        authz(), caller(), tenant, body["role"], body["permissions"], body.get("limits"),
        reason=body.get("reason"))[0]}


@blp.route("/tenants/<tenant>/roles/<role>", methods=["PUT"])
@blp.arguments(RolePermissions)
@blp.response(200, Revision)
def set_role_permissions(body: dict, tenant: str, role: str):
    """Make the role's permissions exactly these."""
    return {"revision": policy_edits.set_role_permissions(
        authz(), caller(), tenant, role, body["permissions"], body.get("limits"),
        reason=body.get("reason"))[0]}


@blp.route("/tenants/<tenant>/roles/<role>", methods=["DELETE"])
@blp.response(200, Revision)
def delete_role(tenant: str, role: str):
    """Delete a role nobody holds (409 while it is granted)."""
    return {"revision": policy_edits.delete_role(authz(), caller(), tenant, role)[0]}


@blp.route("/tenants/<tenant>/grants", methods=["POST"])
@blp.arguments(Grant)
@blp.response(200, Revision)
def grant_role(body: dict, tenant: str):
    """Grant a role to a sub-account or department in some stores or "all" (R5, R6)."""
    return {"revision": policy_edits.grant_role(
        authz(), caller(), tenant, _who(body), body["role"], body["stores"],
        body.get("expires_at"), reason=body.get("reason"))[0]}


@blp.route("/tenants/<tenant>/grants/revoke", methods=["POST"])
@blp.arguments(Grant)
@blp.response(200, Revision)
def revoke_role(body: dict, tenant: str):
    """Take a role back from a sub-account or department in some stores or "all"."""
    return {"revision": policy_edits.revoke_role(
        authz(), caller(), tenant, _who(body), body["role"], body["stores"],
        reason=body.get("reason"))[0]}


@blp.route("/tenants/<tenant>/expiring-grants", methods=["GET"])
@blp.response(200, ExpiringGrants)
def expiring_grants(tenant: str):
    """Time-boxed grants (role grants and supplementary permissions with an expiry) not
    yet expired, soonest first. At expiry a grant stops counting and its removal is a
    ledger entry by `system:expiry`."""
    return {"grants": A.expiring(read(tenant))}


def _direct_routes(path: str, effect: str, doc: str) -> None:
    def add(body: dict, tenant: str):
        return {"revision": policy_edits.add_direct(
            authz(), caller(), tenant, _who(body), body["store"], body["permission"],
            effect, body.get("expires_at"), body.get("limit"),
            reason=body.get("reason"))[0]}

    def remove(body: dict, tenant: str):
        return {"revision": policy_edits.remove_direct(
            authz(), caller(), tenant, _who(body), body["store"], body["permission"],
            effect, reason=body.get("reason"))[0]}

    add.__doc__, remove.__doc__ = doc, f"Remove: {doc[0].lower()}{doc[1:]}"
    for view, suffix in ((add, ""), (remove, "/revoke")):
        view.__name__ = f"{effect}_{'remove' if suffix else 'add'}"
        blp.route(f"/tenants/<tenant>/{path}{suffix}", methods=["POST"])(
            blp.arguments(Direct)(blp.response(200, Revision)(view)))


_direct_routes("permissions", "allow", "A supplementary permission in one store (R7).")
_direct_routes("denies", "deny", 'An explicit deny in one store or "all"; deny wins (R8).')


@blp.route("/tenants/<tenant>/subaccounts/<login>/stores", methods=["PUT"])
@blp.arguments(Stores)
@blp.response(200, AssignmentReport)
def set_stores(body: dict, tenant: str, login: str):
    """Assign exactly these stores; a sub-account acts only in its stores (R14)."""
    revision, report = subaccounts.set_stores(authz(), caller(), tenant, login,
                                              body["stores"], reason=body.get("reason"))
    return {"revision": revision, **report}


@blp.route("/tenants/<tenant>/subaccounts/<login>/status", methods=["PUT"])
@blp.arguments(Status)
@blp.response(200, Revision)
def set_status(body: dict, tenant: str, login: str):
    """Disable (deny everything, grants kept) or enable a sub-account (R12)."""
    return {"revision": subaccounts.set_disabled(authz(), caller(), tenant, login,
                                                 body["disabled"],
                                                 reason=body.get("reason"))[0]}


@blp.route("/tenants/<tenant>/departments/<department>/members/<login>", methods=["PUT"])
@blp.arguments(Reason)
@blp.response(200, Revision)
def add_member(body: dict, tenant: str, department: str, login: str):
    """Add a sub-account to a department; it gets the department's grants (R5)."""
    return {"revision": subaccounts.join(authz(), caller(), tenant, department, login,
                                         reason=body.get("reason"))[0]}


@blp.route("/tenants/<tenant>/departments/<department>/members/<login>", methods=["DELETE"])
@blp.response(200, Revision)
def remove_member(tenant: str, department: str, login: str):
    """Remove a sub-account from a department; it loses the department's grants."""
    return {"revision": subaccounts.leave(authz(), caller(), tenant, department, login)[0]}
