"""Request and response schemas: the edge of the service. Requests reject unknown fields."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import RAISE, ValidationError, fields, validate

from ..domain import rules as R
from ..domain.policy_admin import ALL_STORES


def _identifier(value: str) -> None:
    if not R.IDENTIFIER.fullmatch(value):
        raise ValidationError(
            "must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        )


def Identifier(**kwargs) -> fields.String:  # noqa: N802 - reads as a field type
    return fields.String(validate=_identifier, **kwargs)


class Request(ma.Schema):
    class Meta:
        unknown = RAISE


class Write(Request):
    reason = fields.String(validate=validate.Length(max=1000),
                           metadata={"description": "Why; kept in the change log"})


class StoresField(fields.Field):
    """A list of store ids, or "all" for every store of the tenant, present and future."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value == ALL_STORES:
            return value
        if not isinstance(value, list) or not value:
            raise ValidationError('must be "all" or a non-empty list of store ids')
        if len(value) > 10_000:
            raise ValidationError("at most 10000 stores")
        for item in value:
            if not isinstance(item, str):
                raise ValidationError("store ids are strings")
            _identifier(item)
        return value


# -- /check --------------------------------------------------------------------------------
class Context(Request):
    second_factor = fields.Boolean(
        load_default=False,
        metadata={"description": "The user passed a second factor (step-up, R10)"},
    )


class Check(Request):
    tenant = Identifier(metadata={"description": "Only with the admin key; otherwise the key's"})
    subject = Identifier(required=True, metadata={"description": "Sub-account login or 'owner'"})
    store = Identifier(required=True)
    object = Identifier(required=True, metadata={"description": "Area, e.g. 'orders'"})
    action = Identifier(required=True, metadata={"description": "Action, e.g. 'refund'"})
    context = fields.Nested(Context, load_default=dict)


class CheckResult(ma.Schema):
    allowed = fields.Boolean(required=True)
    revision = fields.Integer(required=True)


class CheckBatch(Request):
    checks = fields.List(fields.Nested(Check), required=True)


class BatchItem(ma.Schema):
    allowed = fields.Boolean(required=True)


class CheckBatchResult(ma.Schema):
    results = fields.List(fields.Nested(BatchItem), required=True)
    revision = fields.Integer(required=True)


# -- admin ---------------------------------------------------------------------------------
class Revision(ma.Schema):
    revision = fields.Integer(required=True)


class NewTenant(Request):
    tenant = Identifier(required=True)
    name = fields.String(validate=validate.Length(max=200), load_default="")


class TenantCreated(Revision):
    tenant = fields.String()
    owner_key = fields.String(metadata={"description": "Shown once; only its hash is stored"})
    check_key = fields.String(metadata={"description": "Shown once; only its hash is stored"})


class NewStore(Write):
    store = Identifier(required=True)


class NewRole(Write):
    role = Identifier(required=True)
    permissions = fields.List(fields.String(), required=True)


class RolePermissions(Write):
    permissions = fields.List(fields.String(), required=True)


class Role(ma.Schema):
    role = fields.String()
    permissions = fields.List(fields.String())


class Roles(Revision):
    roles = fields.List(fields.Nested(Role))


class Grantee(Write):
    subject = Identifier(metadata={"description": "A sub-account login (or give department)"})
    department = Identifier(metadata={"description": "A department (or give subject)"})


class Grant(Grantee):
    role = Identifier(required=True)
    stores = StoresField(required=True, metadata={"description": 'Store ids, or "all"'})


class Direct(Grantee):
    store = Identifier(required=True, metadata={"description": 'A store id ("all" for denies)'})
    permission = fields.String(required=True, metadata={"description": "area:action"})


class Stores(Write):
    stores = fields.List(Identifier(), required=True, validate=validate.Length(max=10_000))


class Status(Write):
    disabled = fields.Boolean(required=True)


class Policy(Revision):
    stores = fields.List(fields.String())
    roles = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    grants = fields.List(fields.Dict())
    permissions = fields.List(fields.Dict())
    denies = fields.List(fields.Dict())


class Reason(Write):
    pass
