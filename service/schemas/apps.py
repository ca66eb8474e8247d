"""Apps (R21): the registry, app keys, catalogue versions, installs, app grants."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

from .base import Identifier, Request, Revision, Write
from .keys import Rotation
from .policy import MOVES_MONEY, CataloguePermission


class Texts(Request):
    """A text in both of the service's languages."""

    en = fields.String(required=True, validate=validate.Length(min=1, max=200))
    zh_cn = fields.String(required=True, data_key="zh-CN",
                          validate=validate.Length(min=1, max=200))


class NewApp(Request):
    app = fields.String(required=True, metadata={
        "description": "2-32 characters of a-z, 0-9 and '-', starting with a letter: its "
                       "permissions are named <app>.<area>:<action>"})
    name = fields.Dict(required=True, metadata={
        "description": "{\"en\": ..., \"zh-CN\": ...}: the display name in both languages"})


class AppCreated(ma.Schema):
    app = fields.String()
    name = fields.Dict()
    key_id = fields.String()
    token = fields.String(metadata={"description": "The app key, shown only this once"})


class NewAppKey(Rotation):
    pass


class AppKeyCreated(ma.Schema):
    app = fields.String()
    key_id = fields.String()
    token = fields.String(metadata={"description": "Shown only this once"})
    replaced = fields.String(allow_none=True)
    replaced_until = fields.Float(allow_none=True, metadata={"description": "Unix seconds"})


class AppPermission(Request):
    name = fields.String(required=True, metadata={
        "description": "area:action, the app's own name (no app prefix)"})
    description = fields.Nested(Texts, required=True)
    high_risk = fields.Boolean(metadata={"description": "step-up (R10) can protect it"})
    owner_only = fields.Boolean(metadata={"description": "never grantable (R13)"})
    per_product = fields.Boolean(metadata={
        "description": "in a store run by product only a product's operators (R17); asked "
                       "as object <app>.<area>/product/<id>"})
    amount = fields.Boolean(metadata=MOVES_MONEY)


class AppKeyRevoked(ma.Schema):
    app = fields.String()
    key_id = fields.String()
    valid_until = fields.Float(metadata={"description": "Unix seconds: now"})


class AppCatalogueVersion(Request):
    permissions = fields.List(fields.Nested(AppPermission), required=True)
    deprecated = fields.List(fields.String(), metadata={
        "description": "Still decided, no longer grantable"})
    renames = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "old -> new name: every tenant's rules follow"})
    role_templates = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                                 metadata={"description": "added when a tenant installs"})


class Published(ma.Schema):
    app = fields.String()
    version = fields.Integer()
    republished = fields.Boolean(metadata={"description": "The newest version was sent "
                                                          "again: nothing new was published; "
                                                          "tenants behind it were brought up"})
    dry_run = fields.Boolean()
    tenants = fields.Dict(metadata={"description": "Per tenant: the rules the version "
                                                   "changed (or would change) there"})
    failed = fields.Dict(metadata={"description": "Tenants whose update failed: publish "
                                                  "again to retry them"})


class AppInfo(ma.Schema):
    app = fields.String()
    name = fields.Dict()
    version = fields.Integer(allow_none=True)
    created_at = fields.String()
    catalogue = fields.Dict(allow_none=True)
    installed_in = fields.List(fields.String())


class AppInstalled(Revision):
    app = fields.String()
    version = fields.Integer()
    role_templates_added = fields.List(fields.String())
    role_templates_skipped = fields.List(fields.String(), metadata={
        "description": "names the tenant already used: left as they were"})


class AppRemoved(Revision):
    app = fields.String()
    dry_run = fields.Boolean()
    removed_rules = fields.List(fields.String())
    roles_removed = fields.List(fields.String(), metadata={
        "description": "roles that held only this app's permissions, and their grants"})


class TenantCataloguePermission(CataloguePermission):
    app = fields.String(allow_none=True)
    per_product = fields.Boolean()
    deprecated = fields.Boolean()


class TenantCatalogue(Revision):
    apps = fields.List(fields.String())
    permissions = fields.List(fields.Nested(TenantCataloguePermission))


class AllowedPermissionsQuery(Request):
    subject = Identifier(required=True, metadata={"description": "a login, or owner"})
    store = Identifier(required=True)
    second_factor = fields.Boolean(load_default=False, metadata={
        "description": "As in /check's context: whether the user passed a second factor"})


class AllowedPermissions(Revision):
    subject = fields.String()
    store = fields.String()
    second_factor = fields.Boolean()
    permissions = fields.List(fields.String(), metadata={
        "description": "Every permission /check would allow here, sorted (an app key: its "
                       "own app's only)"})
    limits = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "The permissions allowed here only up to an amount, with the highest "
                       "(R22): /check allows them with an amount at or below it"})


class AllowedStoresQuery(Request):
    subject = Identifier(required=True, metadata={"description": "a login, or owner"})
    permission = fields.String(required=True, metadata={"description": "area:action"})
    second_factor = fields.Boolean(load_default=False)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AllowedStores(Revision):
    subject = fields.String()
    permission = fields.String()
    total = fields.Integer(metadata={"description": "All matches; the pages are complete"})
    page = fields.Integer()
    per_page = fields.Integer()
    stores = fields.List(fields.String())


class AppGrant(Request):
    subject = fields.String(required=True)
    store = fields.String(required=True, metadata={"description": "a store, or all: every "
                                                   "store the sub-account is assigned"})
    permissions = fields.List(fields.String(), required=True, metadata={
        "description": "the app's own names (area:action, no app prefix)"})


class AppGrantsImport(Write):
    grants = fields.List(fields.Nested(AppGrant), validate=validate.Length(min=1, max=10_000),
                         metadata={"description": "each problem is named by its item"})
    csv = fields.String(validate=validate.Length(min=1, max=2_000_000), metadata={
        "description": "instead of grants: the app's own settings as a file, one line per "
                       "sub-account and store: subject, store (or all), permission[, "
                       "permission...]; each problem is named by its line"})

    @ma.validates_schema
    def one_of(self, data, **kwargs):
        if ("grants" in data) == ("csv" in data):
            raise ValidationError("give exactly one of grants and csv", "grants")
    dry_run = fields.Boolean(load_default=True, metadata={
        "description": "Report what would change and every problem (default); false "
                       "applies it as one revision"})


class AppGrantsImported(Revision):
    app = fields.String()
    dry_run = fields.Boolean()
    added = fields.List(fields.String())
    already_granted = fields.List(fields.String())


class AvailableApp(ma.Schema):
    app = fields.String()
    name = fields.Dict()
    version = fields.Integer(allow_none=True, metadata={"description": "newest published"})
    installed = fields.Boolean()


class AvailableApps(ma.Schema):
    apps = fields.List(fields.Nested(AvailableApp))
