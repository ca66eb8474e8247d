"""Tenants, stores, roles, grants, denies and the policy (R1-R3, R6-R9, R12, R13, R22): the
owner's edits."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from .base import Identifier, Instant, Request, Revision, StoresField, Write


class NewTenant(Request):
    tenant = Identifier(required=True)
    name = fields.String(validate=validate.Length(max=200), load_default="")


class TenantCreated(Revision):
    tenant = fields.String()
    owner_key = fields.String(metadata={"description": "Shown once; only its hash is stored"})
    check_key = fields.String(metadata={"description": "Shown once; only its hash is stored"})


CURRENCY = {"description": "ISO 4217 code of the store's currency: limits and amounts "
                           "there are in it (R22)", "example": "USD"}


LIMITS = {"description": "permission -> the most one action may move, a decimal string "
                         "(\"200.00\"), for permissions that move money (R22). On PUT, "
                         "left out: each permission kept keeps its limit"}


class NewStore(Write):
    store = Identifier(required=True)
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}\Z", error="three capital "
                                                      "letters (ISO 4217)"), metadata=CURRENCY)


class StoreCurrency(Write):
    currency = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{3}\Z", error="three capital letters (ISO 4217)"), metadata=CURRENCY)


class NewRole(Write):
    role = Identifier(required=True)
    permissions = fields.List(fields.String(), required=True)
    limits = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata=LIMITS)


class RolePermissions(Write):
    permissions = fields.List(fields.String(), required=True)
    limits = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata=LIMITS)


class Role(ma.Schema):
    role = fields.String()
    permissions = fields.List(fields.String())
    limits = fields.Dict(keys=fields.String(), values=fields.String(), metadata=LIMITS)


class Roles(Revision):
    roles = fields.List(fields.Nested(Role))


class Grantee(Write):
    subject = Identifier(metadata={"description": "A sub-account login (or give department)"})
    department = Identifier(metadata={"description": "A department (or give subject)"})


class Grant(Grantee):
    role = Identifier(required=True)
    stores = StoresField(required=True, metadata={"description": 'Store ids, or "all"'})
    expires_at = Instant(metadata={
        "description": "ISO 8601 with a zone: the grant stops counting then (a shift, a sale "
                       "event). Granting again without it makes the grant permanent."})


class Direct(Grantee):
    store = Identifier(required=True, metadata={"description": 'A store id ("all" for denies)'})
    permission = fields.String(required=True, metadata={"description": "area:action"})
    expires_at = Instant(metadata={
        "description": "Supplementary permissions only: when it stops counting"})
    limit = fields.Raw(metadata={"description": "Supplementary permissions only: the most "
                                                "one action may move, a decimal string "
                                                "(\"200.00\"), for a permission that moves "
                                                "money (R22)"})


class Stores(Write):
    stores = fields.List(Identifier(), required=True, validate=validate.Length(max=10_000))


class StoreChanges(ma.Schema):
    added = fields.List(fields.String())
    removed = fields.List(fields.String())


class AssignmentReport(Revision):
    dry_run = fields.Boolean()
    mode = fields.String()
    subjects = fields.List(fields.String())
    changes = fields.Dict(keys=fields.String(), values=fields.Nested(StoreChanges), metadata={
        "description": "login -> stores added and removed (sub-accounts with a change)"})
    default_store_changed = fields.Dict(keys=fields.String(), values=fields.String(),
                                        metadata={"description": "login -> new default store"})
    disabled = fields.List(fields.String(), metadata={"description": "left with no store"})


class StoreRevoked(Revision):
    dry_run = fields.Boolean()
    store = fields.String()
    removed_rules = fields.List(fields.String())
    default_store_changed = fields.Dict(keys=fields.String(), values=fields.String())
    disabled = fields.List(fields.String())


class Status(Write):
    disabled = fields.Boolean(required=True)


class Policy(Revision):
    stores = fields.List(fields.String())
    currencies = fields.Dict(keys=fields.String(), values=fields.String(), metadata=CURRENCY)
    roles = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    limits = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "role -> permission -> limit (R22)"})
    grants = fields.List(fields.Dict())
    permissions = fields.List(fields.Dict())
    denies = fields.List(fields.Dict())


class Reason(Write):
    pass


MOVES_MONEY = {"description": "moves money: checked with an amount; a grant of it may carry a "
                              "limit (R22)"}


class CataloguePermission(ma.Schema):
    name = fields.String()
    area = fields.String()
    action = fields.String()
    description = fields.String()
    high_risk = fields.Boolean()
    owner_only = fields.Boolean()
    amount = fields.Boolean(metadata=MOVES_MONEY)


class Catalogue(ma.Schema):
    version = fields.String()
    permissions = fields.List(fields.Nested(CataloguePermission))


class StoreMode(Write):
    mode = fields.String(required=True, validate=validate.OneOf(["by-store", "by-product"]))


class StoreProducts(Revision):
    store = fields.String()
    mode = fields.String()
    operators = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                            metadata={"description": "product id -> operator logins"})


class ExpiringGrant(ma.Schema):
    rule = fields.String()
    expires_at = fields.String(metadata={"description": "ISO 8601 UTC"})


class ExpiringGrants(ma.Schema):
    grants = fields.List(fields.Nested(ExpiringGrant), metadata={
        "description": "Time-boxed grants not yet expired, soonest first"})
