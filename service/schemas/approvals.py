"""Approvals (R24): modes, requests, decisions, the queue."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..domain import approvals
from .base import Identifier, Request, Write


class ApprovalMode(Write):
    mode = fields.String(required=True, validate=validate.OneOf(approvals.MODES),
                         metadata={"description": "never; over_limit (an action over the "
                                                  "requester's limit may be approved: "
                                                  "permissions that move money); always "
                                                  "(every action by a sub-account needs an "
                                                  "approval)"})


class ApprovalModes(ma.Schema):
    modes = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "permission -> mode, where it is not never"})


class NewApproval(Request):
    subject = Identifier(required=True, metadata={"description": "The sub-account asking"})
    store = Identifier(required=True)
    permission = fields.String(required=True, metadata={"description": "area:action"})
    amount = fields.Raw(metadata={"description": "The amount, a decimal string (\"250.00\")"})
    product = Identifier(metadata={"description": "The product, for a check about one"})
    note = fields.String(load_default="", validate=validate.Length(max=500))
    expires_in_minutes = fields.Integer(strict=True, validate=validate.Range(min=1, max=10080),
                                        metadata={"description": "Default 1440 (24 h)"})


class ApprovalDecision(Request):
    approve = fields.Boolean(required=True, truthy={True}, falsy={False})
    approver = Identifier(metadata={"description": "The sub-account deciding (holding "
                                                   "approvals:decide in the store); left out "
                                                   "with the owner key: the owner"})
    note = fields.String(load_default="", validate=validate.Length(max=500))


class Approval(ma.Schema):
    id = fields.String()
    state = fields.String(metadata={"description": "pending, approved, rejected, used or "
                                                   "expired"})
    subject = fields.String()
    store = fields.String()
    permission = fields.String()
    amount = fields.String(allow_none=True)
    product = fields.String()
    note = fields.String()
    requested_by = fields.String(metadata={"description": "The key that filed it"})
    requested_at = fields.String()
    expires_at = fields.String()
    decided_by = fields.String(metadata={"description": "owner or the approver's login"})
    decided_at = fields.String()
    decision_note = fields.String()
    used_at = fields.String()
    used_by = fields.String()


class ApprovalAnswer(Approval):
    revision = fields.Integer()


class ApprovalQuery(Request):
    state = fields.String(validate=validate.OneOf(approvals.STATES))
    subject = Identifier()
    store = Identifier()
    permission = fields.String(validate=validate.Length(max=130))
    approver = Identifier(metadata={"description": "The requests this sub-account may "
                                                   "decide now (its queue)"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class ApprovalPage(ma.Schema):
    items = fields.List(fields.Nested(Approval))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
