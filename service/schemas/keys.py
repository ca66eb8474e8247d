"""API keys: creation, rotation, listing, revocation."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..domain import keys
from .base import Request, Revision, Write


class Rotation(Request):
    """A new key that may rotate an old one out (a tenant's key or an app's)."""

    replaces = fields.String(validate=validate.Regexp(rf"^{keys.KEY_ID}\Z"), metadata={
        "description": "Key id this one rotates out: it keeps working for overlap_seconds"})
    overlap_seconds = fields.Integer(strict=True, load_default=86_400, validate=validate.Range(
        min=0, max=keys.MAX_OVERLAP_SECONDS))


class NewKey(Rotation, Write):
    scope = fields.String(required=True, validate=validate.OneOf(keys.SCOPES))


class KeyInfo(ma.Schema):
    key_id = fields.String()
    scope = fields.String()
    created_at = fields.String()
    valid_until = fields.String(allow_none=True, metadata={"description": "null: until revoked"})
    active = fields.Boolean()


class KeyCreated(Revision):
    key_id = fields.String()
    scope = fields.String()
    token = fields.String(metadata={"description": "Shown once; only its hash is stored"})
    replaced = fields.Nested(KeyInfo, allow_none=True)


class KeyList(Revision):
    keys = fields.List(fields.Nested(KeyInfo))


class KeyRevoked(Revision):
    key_id = fields.String()
    valid_until = fields.String()
