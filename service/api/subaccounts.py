"""Sub-accounts, departments, tenant settings and the permission catalogue."""

from __future__ import annotations

from dataclasses import asdict

from flask_smorest import Blueprint
from marshmallow import RAISE

from ..domain import catalogue
from ..domain import subaccounts as S
from ..schemas.base import Revision
from ..schemas.policy import AssignmentReport, Catalogue
from ..schemas.subaccounts import (
    BatchStores,
    DefaultStore,
    DepartmentName,
    Departments,
    NewDepartment,
    NewSubAccount,
    Profile,
    SubAccount,
    SubAccountPage,
    SubAccountQuery,
    SubAccountWritten,
    TenantSettings,
    TenantSettingsRead,
)
from ..usecases import policy_edits, subaccounts, tenant_admin
from .auth import authenticate, authz, caller
from .policy import read

blp = Blueprint("subaccounts", __name__, url_prefix="/v1",
                description="Sub-accounts, departments and tenant settings")
blp.before_request(authenticate)


@blp.route("/catalogue", methods=["GET"])
@blp.response(200, Catalogue)
def get_catalogue():
    """Every permission, with its description and risk (R9)."""
    return {"version": catalogue.CATALOGUE_VERSION,
            "permissions": [{**asdict(p), "name": p.name} for p in catalogue.PERMISSIONS]}


@blp.route("/tenants/<tenant>/subaccounts", methods=["POST"])
@blp.arguments(NewSubAccount)
@blp.response(201, SubAccountWritten)
def create_sub_account(body: dict, tenant: str):
    """Create a sub-account (R4); refused past the tenant's cap (R11)."""
    return _written(subaccounts.create(
        authz(), caller(), tenant, body["login"], body["stores"], body, body["departments"],
        body["roles"], reason=body.get("reason")))


def _written(answer: tuple[int, dict]) -> dict:
    revision, view = answer
    return {"revision": revision, "sub_account": view}


@blp.route("/tenants/<tenant>/subaccounts", methods=["GET"])
# webargs ignores unknown query parameters by default; a typo in a filter must not pass.
@blp.arguments(SubAccountQuery, location="query", unknown=RAISE)
@blp.response(200, SubAccountPage)
def list_sub_accounts(query: dict, tenant: str):
    """Sub-accounts, filtered by status, store, department or text, a page at a time."""
    policy = read(tenant)
    items = S.listing(policy, status=query.get("status"), store=query.get("store"),
                      department=query.get("department"), q=query.get("q"))
    page, per_page = query["page"], query["per_page"]
    return {
        "revision": policy.revision,
        "items": items[(page - 1) * per_page: page * per_page],
        "total": len(items), "page": page, "per_page": per_page,
        "count": len(policy.directory.accounts),
        "limit": policy.directory.settings.max_sub_accounts,
    }


@blp.route("/tenants/<tenant>/subaccounts/<login>", methods=["GET"])
@blp.response(200, SubAccount)
def get_sub_account(tenant: str, login: str):
    """One sub-account: profile, status, stores, departments, grants and denies."""
    return S.view(read(tenant), login)


@blp.route("/tenants/<tenant>/subaccounts/<login>", methods=["PATCH"])
@blp.arguments(Profile)
@blp.response(200, SubAccountWritten)
def update_sub_account(body: dict, tenant: str, login: str):
    """Edit the profile; there is no delete: disable instead (R12)."""
    return _written(subaccounts.update_profile(authz(), caller(), tenant, login, body,
                                               reason=body.get("reason")))


@blp.route("/tenants/<tenant>/subaccounts/<login>/default-store", methods=["PUT"])
@blp.arguments(DefaultStore)
@blp.response(200, SubAccountWritten)
def set_default_store(body: dict, tenant: str, login: str):
    """Set the default store; it must be one of the sub-account's stores (R15)."""
    return _written(subaccounts.set_default_store(authz(), caller(), tenant, login,
                                                  body["store"], reason=body.get("reason")))


@blp.route("/tenants/<tenant>/subaccounts/batch-stores", methods=["POST"])
@blp.arguments(BatchStores)
@blp.response(200, AssignmentReport)
def batch_stores(body: dict, tenant: str):
    """Add, remove or reset stores for many sub-accounts at once; all or nothing (R14).
    With dry_run: what would change, nothing written."""
    if body["dry_run"]:
        revision, report = policy_edits.batch_assign.preview(
            authz(), caller(), tenant, body["mode"], body["subjects"], body["stores"])
    else:
        revision, report = policy_edits.batch_assign(
            authz(), caller(), tenant, body["mode"], body["subjects"], body["stores"],
            reason=body.get("reason"))
    return {"revision": revision, "dry_run": body["dry_run"], **report}


@blp.route("/tenants/<tenant>/departments", methods=["POST"])
@blp.arguments(NewDepartment)
@blp.response(201, Revision)
def create_department(body: dict, tenant: str):
    """Create a department; grant it roles, add members, and they all get them (R5)."""
    revision, _ = policy_edits.create_department(authz(), caller(), tenant,
                                                 body["department"], body["name"],
                                                 reason=body.get("reason"))
    return {"revision": revision}


@blp.route("/tenants/<tenant>/departments", methods=["GET"])
@blp.response(200, Departments)
def list_departments(tenant: str):
    """The tenant's departments with their members."""
    policy = read(tenant)
    return {"revision": policy.revision, "departments": [
        {"department": d, "name": name, "members": S.members(policy, d)}
        for d, name in sorted(policy.directory.departments.items())]}


@blp.route("/tenants/<tenant>/departments/<department>", methods=["PATCH"])
@blp.arguments(DepartmentName)
@blp.response(200, Revision)
def rename_department(body: dict, tenant: str, department: str):
    """Rename a department (its id, used in rules, stays)."""
    revision, _ = policy_edits.rename_department(authz(), caller(), tenant, department,
                                                 body["name"], reason=body.get("reason"))
    return {"revision": revision}


@blp.route("/tenants/<tenant>/settings", methods=["GET"])
@blp.response(200, TenantSettingsRead)
def get_settings(tenant: str):
    """The tenant's settings: the sub-account cap (R11), step-up (R10), console language."""
    policy = read(tenant)
    return {"revision": policy.revision, **_settings(policy)}


def _settings(policy) -> dict:
    return {"max_sub_accounts": policy.directory.settings.max_sub_accounts,
            "step_up": S.step_up_enabled(policy),
            "language": policy.directory.settings.language}


@blp.route("/tenants/<tenant>/settings", methods=["PATCH"])
@blp.arguments(TenantSettings)
@blp.response(200, TenantSettingsRead)
def update_settings(body: dict, tenant: str):
    """Step-up (R10) is the owner's; the sub-account cap (R11) is the platform's plan."""
    revision, policy = tenant_admin.update_settings(authz(), caller(), tenant, body)
    return {"revision": revision, **_settings(policy)}

