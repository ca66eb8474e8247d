"""Sub-accounts, departments and the tenant's settings (R4, R5, R10, R11, R14, R15)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

from ..domain.accounts import LANGUAGES
from .base import Identifier, Request, Revision, StoresField, Write


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank")


class Profile(Write):
    """An edit: the fields given change. A display name and an email are required (R4), so
    neither can be blanked; the phone is optional, and "" clears it."""

    display_name = fields.String(validate=[validate.Length(max=100), _not_blank])
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=validate.Regexp(r"^(\+?[0-9 ()-]{3,32})?\Z",
                                                   error="digits, spaces, ()- and a leading +"))
    note = fields.String(validate=validate.Length(max=2000))


class RoleGrant(Request):
    role = Identifier(required=True)
    stores = StoresField(required=True)


class NewSubAccount(Profile):
    login = Identifier(required=True)
    display_name = fields.String(required=True,
                                 validate=[validate.Length(max=100), _not_blank])
    email = fields.Email(required=True, validate=validate.Length(max=254))
    stores = fields.List(Identifier(), required=True, validate=validate.Length(min=1, max=1000),
                         metadata={"description": "The first is the default store (R15)"})
    departments = fields.List(Identifier(), load_default=list,
                              validate=validate.Length(max=100))
    roles = fields.List(fields.Nested(RoleGrant), load_default=list,
                        validate=validate.Length(max=100))


class SubAccount(ma.Schema):
    login = fields.String()
    display_name = fields.String()
    email = fields.String()
    phone = fields.String()
    note = fields.String()
    status = fields.String(metadata={"description": "active or disabled"})
    default_store = fields.String(allow_none=True)
    stores = fields.List(fields.String(), metadata={"description": "Earliest assigned first"})
    departments = fields.List(fields.String())
    grants = fields.List(fields.Dict())
    permissions = fields.List(fields.Dict())
    denies = fields.List(fields.Dict())


class SubAccountWritten(Revision):
    sub_account = fields.Nested(SubAccount)


class SubAccountQuery(Request):
    status = fields.String(validate=validate.OneOf(["active", "disabled"]))
    store = Identifier()
    department = Identifier()
    q = fields.String(validate=validate.Length(max=100))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class SubAccountPage(Revision):
    items = fields.List(fields.Nested(SubAccount))
    total = fields.Integer(metadata={"description": "Matching the filters"})
    page = fields.Integer()
    per_page = fields.Integer()
    count = fields.Integer(metadata={"description": "Sub-accounts of the tenant, all statuses"})
    limit = fields.Integer(metadata={"description": "The tenant's cap (R11)"})


class DefaultStore(Write):
    store = Identifier(required=True)


class BatchStores(Write):
    mode = fields.String(required=True, validate=validate.OneOf(["add", "remove", "reset"]))
    subjects = fields.List(fields.String(), required=True,
                           validate=validate.Length(min=1, max=1000))
    stores = fields.List(fields.String(), required=True, validate=validate.Length(max=10_000))
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "Answer what would change, change nothing"})


class DryRunQuery(Request):
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "Answer what would change, change nothing"})


class NewDepartment(Write):
    department = Identifier(required=True)
    name = fields.String(validate=validate.Length(max=100), load_default="")


class DepartmentName(Write):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class Department(ma.Schema):
    department = fields.String()
    name = fields.String()
    members = fields.List(fields.String())


class Departments(Revision):
    departments = fields.List(fields.Nested(Department))


class TenantSettings(Write):
    max_sub_accounts = fields.Integer(validate=validate.Range(min=0, max=100_000))
    step_up = fields.Boolean(metadata={"description": "High-risk permissions need a second "
                                                      "factor (R10)"})
    language = fields.String(validate=validate.OneOf(LANGUAGES),
                             metadata={"description": "The console's language"})


class TenantSettingsRead(Revision):
    max_sub_accounts = fields.Integer()
    step_up = fields.Boolean()
    language = fields.String()
