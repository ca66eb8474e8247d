"""Who can do what, and why: complete and paginated (R19's question, answered live)."""

from __future__ import annotations

import csv
import io

from flask import Response
from flask_smorest import Blueprint

from ..schemas.access import AccessPage, AccessQuery, Matrix, MatrixQuery, WhoCanQuery
from ..schemas.apps import (
    AllowedPermissions,
    AllowedPermissionsQuery,
    AllowedStores,
    AllowedStoresQuery,
)
from ..usecases import access as Q
from .auth import authenticate, authz, caller

blp = Blueprint("access", __name__, url_prefix="/v1", description="Who can do what")
blp.before_request(authenticate)


def _page(items: list[dict], query: dict, revision: int) -> dict:
    """One page of a complete answer (`total` counts all of it)."""
    start = (query["page"] - 1) * query["per_page"]
    return {"revision": revision, "total": len(items), "page": query["page"],
            "per_page": query["per_page"], "items": items[start:start + query["per_page"]]}


@blp.route("/tenants/<tenant>/who-can", methods=["GET"])
@blp.arguments(WhoCanQuery, location="query")
@blp.response(200, AccessPage)
def who_can(query: dict, tenant: str):
    """Every subject who can do `permission` in `store`, each with the role, department or
    direct grant and the scope that allow it."""
    service = authz()
    items = Q.who_can(service, caller(), tenant, query["permission"], query["store"],
                      query["second_factor"])
    return _page(items, query, service.replica.revision(tenant))


@blp.route("/tenants/<tenant>/subaccounts/<login>/can", methods=["GET"])
@blp.arguments(AccessQuery, location="query")
@blp.response(200, AccessPage)
def stores_where(query: dict, tenant: str, login: str):
    """Every store where the sub-account (or `owner`) can do `permission`, and why."""
    service = authz()
    items = Q.stores_where(service, caller(), tenant, login, query["permission"],
                           query["second_factor"])
    return _page(items, query, service.replica.revision(tenant))


@blp.route("/tenants/<tenant>/stores/<store>/matrix", methods=["GET"])
@blp.arguments(MatrixQuery, location="query")
@blp.response(200, Matrix)
def matrix(query: dict, tenant: str, store: str):
    """The store's permission matrix: every subject assigned to it x every permission."""
    service = authz()
    subjects, permissions, allowed = Q.matrix(service, caller(), tenant, store,
                                              query["second_factor"])
    return {"revision": service.replica.revision(tenant), "store": store,
            "permissions": permissions,
            "subjects": {s: allowed[s] for s in subjects}}


@blp.route("/tenants/<tenant>/stores/<store>/matrix.csv", methods=["GET"])
@blp.arguments(MatrixQuery, location="query")
@blp.response(200, content_type="text/csv")
def matrix_csv(query: dict, tenant: str, store: str):
    """The same matrix as CSV: a row per subject, a column per permission, 1 = allowed."""
    service = authz()
    subjects, permissions, allowed = Q.matrix(service, caller(), tenant, store,
                                              query["second_factor"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["subject", *permissions])
    for s in subjects:
        mine = set(allowed[s])
        writer.writerow([s, *("1" if p in mine else "0" for p in permissions)])
    return Response(out.getvalue(), mimetype="text/csv")


@blp.route("/tenants/<tenant>/allowed/permissions", methods=["GET"])
@blp.arguments(AllowedPermissionsQuery, location="query")
@blp.response(200, AllowedPermissions)
def allowed_permissions(query: dict, tenant: str):
    """What can this user do here: every permission `subject` is allowed in `store`,
    as /check decides each (for menus and buttons; a check key may ask)."""
    revision, names, limits = Q.permissions_of(authz(), caller(), tenant, query["subject"],
                                               query["store"], query["second_factor"])
    return {"revision": revision, "subject": query["subject"], "store": query["store"],
            "second_factor": query["second_factor"], "permissions": names, "limits": limits}


@blp.route("/tenants/<tenant>/allowed/stores", methods=["GET"])
@blp.arguments(AllowedStoresQuery, location="query")
@blp.response(200, AllowedStores)
def allowed_stores(query: dict, tenant: str):
    """Every store where `subject` is allowed `permission`, a page at a time (complete)."""
    revision, stores = Q.stores_allowed(authz(), caller(), tenant, query["subject"],
                                        query["permission"], query["second_factor"])
    start = (query["page"] - 1) * query["per_page"]
    return {"revision": revision, "subject": query["subject"],
            "permission": query["permission"], "total": len(stores), "page": query["page"],
            "per_page": query["per_page"], "stores": stores[start:start + query["per_page"]]}
