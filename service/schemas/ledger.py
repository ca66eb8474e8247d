"""The ledger: its query, its entries, the verification of its chain."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from .base import Identifier, Instant, Request


class LedgerQuery(Request):
    store = Identifier()
    subject = Identifier()
    actor = fields.String(validate=validate.Length(max=100))
    since = Instant(metadata={"description": "ISO 8601, with a zone"})
    until = Instant()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class LedgerEntry(ma.Schema):
    revision = fields.Integer()
    time = fields.String()
    actor = fields.String()
    reason = fields.String()
    request_id = fields.String()
    added = fields.List(fields.String())
    removed = fields.List(fields.String())
    details = fields.Dict(metadata={"description": "Profiles, departments, settings and keys "
                                                  "changed, before and after"})
    hash = fields.String()
    prev_hash = fields.String()


class LedgerPage(ma.Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    entries = fields.List(fields.Nested(LedgerEntry))


class BrokenChain(ma.Schema):
    chain = fields.String(metadata={"description": "The tenant, or `platform`: the one "
                                    "chain of the entries from before per-tenant chains"})
    tenant = fields.String()
    revision = fields.Integer(metadata={"description": "The chain's first bad entry"})
    problem = fields.String()


class LedgerVerification(ma.Schema):
    ok = fields.Boolean()
    entries = fields.Integer()
    chains = fields.Integer()
    broken = fields.List(fields.Nested(BrokenChain))
