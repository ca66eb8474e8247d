"""Who can do what: the access queries, the matrix, unused grants."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from .base import Identifier, Request, Revision
from .check import ExplainPath


class AccessQuery(Request):
    permission = fields.String(required=True, metadata={"description": "area:action"})
    second_factor = fields.Boolean(load_default=True, metadata={
        "description": "Assume the second factor is passed (default), or not"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class WhoCanQuery(AccessQuery):
    store = Identifier(required=True)


class MatrixQuery(Request):
    second_factor = fields.Boolean(load_default=True)


class AccessItem(ma.Schema):
    subject = fields.String()
    store = fields.String()
    reason = fields.String()
    paths = fields.List(fields.Nested(ExplainPath))


class AccessPage(Revision):
    total = fields.Integer(metadata={"description": "All matches; the list is complete"})
    page = fields.Integer()
    per_page = fields.Integer()
    items = fields.List(fields.Nested(AccessItem))


class Matrix(Revision):
    store = fields.String()
    permissions = fields.List(fields.String())
    subjects = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "subject -> the permissions allowed in this store"})


class UnusedQuery(Request):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=3650))


class UnusedGrants(ma.Schema):
    days = fields.Integer()
    grants = fields.Integer(metadata={"description": "Grants in the policy now"})
    unused = fields.List(fields.String(), metadata={"description": "Decided no logged allow"})
