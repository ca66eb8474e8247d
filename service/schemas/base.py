"""What every request and response schema is built from: unknown fields and NULs refused,
identifiers, instants, the revision every answer carries."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import RAISE, ValidationError, fields, validate

from ..domain import rules as R
from ..domain.policy_admin import ALL_STORES


def identifier(value: str) -> None:
    if not R.IDENTIFIER.fullmatch(value):
        raise ValidationError(
            "must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        )


def Identifier(**kwargs) -> fields.String:  # noqa: N802 - reads as a field type
    return fields.String(validate=identifier, **kwargs)


def _nul_free(value, path: str, found: dict) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            found[path or "_schema"] = ["must not contain a NUL character"]
    elif isinstance(value, dict):
        for key, item in value.items():
            _nul_free(item, str(key) if not path else f"{path}.{key}", found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _nul_free(item, f"{path}[{i}]", found)


class Request(ma.Schema):
    """Every request body and query: unknown fields refused, and no NUL anywhere (a NUL
    cannot be stored by PostgreSQL and would pass on SQLite: one answer on both)."""

    class Meta:
        unknown = RAISE

    @ma.pre_load
    def refuse_nul(self, data, **kwargs):
        found: dict = {}
        if isinstance(data, dict) or hasattr(data, "items"):
            for key, value in data.items():
                _nul_free(value, str(key), found)
        if found:
            raise ValidationError(found)
        return data


# The latest instant an expiry or a filter may name: later ones overflow a datetime once
# moved to UTC (9999-12-31T23:59:59-14:00), which must be a 422, not a 500.
LATEST = "9000-01-01T00:00:00+00:00"


def Instant(**kwargs) -> fields.AwareDateTime:  # noqa: N802 - reads as a field type
    """ISO 8601 with a zone, within the years 1970 to 8999."""
    from datetime import datetime

    latest = datetime.fromisoformat(LATEST)
    earliest = datetime.fromisoformat("1970-01-01T00:00:00+00:00")

    def in_range(value):
        try:
            if not earliest <= value < latest:
                raise ValidationError("must be between 1970 and 8999")
        except OverflowError:
            raise ValidationError("must be between 1970 and 8999") from None

    return fields.AwareDateTime(validate=in_range, **kwargs)


class Write(Request):
    reason = fields.String(validate=validate.Length(max=1000),
                           metadata={"description": "Why; kept in the ledger"})


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
            identifier(item)
        return value


class Revision(ma.Schema):
    revision = fields.Integer(required=True)
