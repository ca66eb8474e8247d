"""/check, /check/batch and /explain: the question, its context, the answer and its reason (R23)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

from ..domain import amounts, reasons
from ..domain import rules as R
from ..domain.catalogue import OBJECTS, split_object
from ..domain.errors import InvalidInput
from .base import Identifier, Request, identifier


def _amount(value: str) -> None:
    try:
        amounts.parse(value)
    except InvalidInput as exc:
        raise ValidationError(f"must be {amounts.RULE}") from exc


class Context(Request):
    second_factor = fields.Boolean(
        load_default=False, truthy={True}, falsy={False},  # JSON true/false only
        metadata={"description": "The user passed a second factor (step-up, R10)"},
    )
    amount = fields.String(validate=_amount, metadata={
        "description": "The amount the action moves, in the store's currency, as "
                                 "a decimal string (\"200.01\"; JSON numbers are refused: "
                                 "they cannot carry every cent). A permission that moves "
                                 "money and is held only up to a limit is denied without "
                                 "it (amount_required, R22)", "example": "150.00"})
    approval = Identifier(metadata={"description": "The id of an approved request this "
                                                   "action uses (R24): allowed once, for "
                                                   "exactly the approved action"})


def _object(value: str) -> None:
    if "/" not in value:
        identifier(value)
        return
    split = split_object(value)
    if split is None or not all(R.IDENTIFIER.fullmatch(part) for part in split):
        raise ValidationError(OBJECTS)


class Check(Request):
    tenant = Identifier(metadata={"description": "Only with the admin key; otherwise the key's"})
    subject = Identifier(required=True, metadata={"description": "Sub-account login or 'owner'"})
    store = Identifier(required=True)
    object = fields.String(required=True, validate=_object, metadata={
        "description": "An area, e.g. 'orders', or one product: 'product/<id>' (R17); for "
                       "an app's per-product permission '<app>.<area>/product/<id>' (R21)"})
    action = Identifier(required=True, metadata={"description": "Action, e.g. 'refund'"})
    context = fields.Nested(Context, load_default=dict)


CONSISTENCY = {"description": "Answer at this revision of the tenant or a later one (the "
                              "revision a write to the tenant answered), or 409 "
                              "stale_revision to retry. Revisions are per tenant."}


REVISION = {"description": "The tenant's revision this answer was decided at (revisions "
                           "are numbered per tenant: the consistency token)"}


class SingleCheck(Check):
    at_least_revision = fields.Integer(strict=True, validate=validate.Range(min=0),
                                       metadata=CONSISTENCY)


REASON = {"description": "Why, as a stable code (R23): " + ", ".join(reasons.CODES)
                         + ". README: Why a check is answered as it is",
          "enum": list(reasons.CODES)}


REQUIRES = {"description": "What the caller could obtain to be allowed: second_factor "
                           "(ask the user for it, check again with context.second_factor), "
                           "approval (file an approval request, R24), or null",
            "enum": [reasons.SECOND_FACTOR, reasons.APPROVAL, None]}


class CheckResult(ma.Schema):
    allowed = fields.Boolean(required=True)
    revision = fields.Integer(required=True, metadata=REVISION)
    reason = fields.String(required=True, metadata=REASON)
    requires = fields.String(required=True, allow_none=True, metadata=REQUIRES)


class CheckBatch(Request):
    checks = fields.List(fields.Nested(Check), required=True)
    at_least_revision = fields.Integer(strict=True, validate=validate.Range(min=0),
                                       metadata=CONSISTENCY)


class BatchItem(ma.Schema):
    allowed = fields.Boolean(required=True)
    reason = fields.String(required=True, metadata=REASON)
    requires = fields.String(required=True, allow_none=True, metadata=REQUIRES)


class CheckBatchResult(ma.Schema):
    results = fields.List(fields.Nested(BatchItem), required=True)
    revision = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The tenant's revision the batch was decided at; null when the "
                       "batch (the admin's) names several tenants: see revisions"})
    revisions = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Each tenant's revision, when the batch names several"})


class ExplainPath(ma.Schema):
    effect = fields.String(metadata={"description": "allow or deny"})
    kind = fields.String(metadata={"description": "owner, role, direct, approval, deny, "
                                                  "disabled, step-up, by-product or "
                                                  "approval-required"})
    limit = fields.String(allow_none=True, metadata={"description": "An allow up to this "
                                                                    "amount (R22)"})
    principal = fields.String(allow_none=True, metadata={
        "description": "sub-account <login> or department <id>; null for tenant rules"})
    scope = fields.String(allow_none=True, metadata={"description": "store <id> or all stores"})
    role = fields.String(allow_none=True)
    rules = fields.List(fields.String(), metadata={"description": "The Casbin rules that "
                                                                 "matched, as in the export"})


class Explanation(CheckResult):
    message = fields.String(metadata={"description": "The reason in words"})
    denies = fields.List(fields.Nested(ExplainPath))
    allows = fields.List(fields.Nested(ExplainPath), metadata={
        "description": "Every path that allows; overridden when a deny applies"})
