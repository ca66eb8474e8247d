"""The decision log (R19): its query and its entries."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..domain import reasons
from .base import Identifier, Instant, Request
from .check import REASON


class DecisionQuery(Request):
    store = Identifier()
    subject = Identifier()
    permission = fields.String(validate=validate.Length(max=130))
    allowed = fields.Boolean()
    reason = fields.String(validate=validate.OneOf(reasons.CODES))
    approval = Identifier(metadata={"description": "Decisions that used this approval"})
    since = Instant()
    until = Instant()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class LoggedDecision(ma.Schema):
    time = fields.String(metadata={"description": "First time asked"})
    last_time = fields.String(metadata={"description": "Last time asked, within one write "
                                                       "interval (1 s) of the first"})
    count = fields.Integer(metadata={"description": "Times asked between the two"})
    subject = fields.String()
    store = fields.String()
    permission = fields.String()
    product = fields.String()
    second_factor = fields.Boolean()
    allowed = fields.Boolean()
    revision = fields.Integer()
    sampled = fields.Boolean(metadata={"description": "An ordinary allow kept by sampling"})
    amount = fields.String(allow_none=True, metadata={"description": "The amount checked"})
    approval = fields.String(allow_none=True, metadata={"description": "The approval used"})
    reason = fields.String(metadata=REASON)
    message = fields.String(metadata={"description": "The reason in words, at that revision"})
    rules = fields.List(fields.String(), metadata={"description": "The deciding rule(s) at "
                                                                 "that revision"})
    consistent = fields.Boolean(metadata={"description": "Replaying it gives the same answer"})


class DecisionPage(ma.Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    entries = fields.List(fields.Nested(LoggedDecision))
