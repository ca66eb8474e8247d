"""Apps that bring their own permissions (R21): the registry, catalogue versions, app keys,
and installing an app in a tenant. Views decode, call usecases/apps.py, encode."""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from ..domain.errors import InvalidInput
from ..schemas.apps import (
    AppCatalogueVersion,
    AppCreated,
    AppGrantsImport,
    AppGrantsImported,
    AppInfo,
    AppInstalled,
    AppKeyCreated,
    AppKeyRevoked,
    AppRemoved,
    AvailableApps,
    NewApp,
    NewAppKey,
    Published,
    TenantCatalogue,
)
from ..schemas.base import Write
from ..schemas.subaccounts import DryRunQuery
from ..usecases import apps
from .auth import authenticate, authz, caller

blp = Blueprint("apps", __name__, url_prefix="/v1",
                description="Apps that bring their own permissions (R21)")
blp.before_request(authenticate)


@blp.route("/apps", methods=["POST"])
@blp.arguments(NewApp)
@blp.response(201, AppCreated)
def register(body: dict):
    """Register an app (platform admin only); the answer carries its key, shown once."""
    return apps.register(authz(), caller(), body["app"], body["name"])


@blp.route("/apps/<app>", methods=["GET"])
@blp.response(200, AppInfo)
def describe(app: str):
    """The app, its newest catalogue version and the tenants that installed it (the
    app's own key, or the admin)."""
    return apps.describe(authz(), caller(), app)


@blp.route("/apps/<app>/keys", methods=["POST"])
@blp.arguments(NewAppKey)
@blp.response(201, AppKeyCreated)
def rotate_key(body: dict, app: str):
    """A new app key; with `replaces`, the old one keeps working for `overlap_seconds`."""
    return apps.rotate_key(authz(), caller(), app, body.get("replaces"),
                           body["overlap_seconds"])


@blp.route("/apps/<app>/keys/<key_id>", methods=["DELETE"])
@blp.response(200, AppKeyRevoked)
def revoke_key(app: str, key_id: str):
    """Revoke an app key at once; the app's last working key only by the admin."""
    return apps.revoke_key(authz(), caller(), app, key_id)


@blp.route("/apps/<app>/catalogue", methods=["PUT"])
@blp.arguments(DryRunQuery, location="query")
@blp.doc(requestBody={"required": True, "content": {
    "application/json": {"schema": AppCatalogueVersion}}})
@blp.response(200, Published)
def publish(query: dict, app: str):
    """Publish the app's next catalogue version (its own key, or the admin). Renames are
    carried into every tenant that installed the app (one ledger entry each, by
    `app:<id>`); removing a permission a tenant still grants is refused."""
    body = request.get_json(silent=True) if request.is_json else None
    if body is None:
        raise InvalidInput("the catalogue is a JSON object", {"json": ["a JSON object"]})
    return apps.publish(authz(), caller(), app, body, query["dry_run"])


@blp.route("/tenants/<tenant>/apps/<app>", methods=["PUT"])
@blp.arguments(Write)
@blp.response(200, AppInstalled)
def install(body: dict, tenant: str, app: str):
    """Install the app in the tenant: its permissions become grantable here and its
    suggested role templates are added (editable like any)."""
    revision, report = apps.install(authz(), caller(), tenant, app, body.get("reason"))
    return {"revision": revision, **report}


@blp.route("/tenants/<tenant>/apps/<app>", methods=["DELETE"])
@blp.arguments(DryRunQuery, location="query")
@blp.response(200, AppRemoved)
def uninstall(query: dict, tenant: str, app: str):
    """Uninstall: every role permission, grant and deny of the app goes, and the grants
    of roles left empty; `dry_run=true` lists exactly that and changes nothing."""
    revision, report = apps.uninstall(authz(), caller(), tenant, app, query["dry_run"])
    return {"revision": revision, **report}


@blp.route("/tenants/<tenant>/catalogue", methods=["GET"])
@blp.response(200, TenantCatalogue)
def tenant_catalogue(tenant: str):
    """The permissions of this tenant: built-in and of the apps it installed."""
    return apps.tenant_catalogue(authz(), caller(), tenant)


@blp.route("/tenants/<tenant>/apps/<app>/import", methods=["POST"])
@blp.arguments(AppGrantsImport)
@blp.response(200, AppGrantsImported)
def import_grants(body: dict, tenant: str, app: str):
    """Move in the app's existing per-sub-account permissions (the app's key, or the
    owner): a dry run by default, showing what would change and every problem; applied,
    one revision, all of it or nothing."""
    revision, report = apps.import_grants(authz(), caller(), tenant, app,
                                          body.get("grants", body.get("csv")),
                                          body["dry_run"], body.get("reason"))
    return {"revision": revision, **report}


@blp.route("/tenants/<tenant>/apps", methods=["GET"])
@blp.response(200, AvailableApps)
def available(tenant: str):
    """Every registered app and whether this tenant installed it."""
    return {"apps": apps.available(authz(), caller(), tenant)}
