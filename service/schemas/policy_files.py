"""The policy files (R20): the import document (CSV and directory), the export, the plan of
an import, lint and diff. The CLI, the API and the console read the same document."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..domain.accounts import LANGUAGES
from .base import Identifier, Instant, Request, Revision


class PolicyFile(Request):
    csv = fields.String(required=True, validate=validate.Length(max=1_000_000), metadata={
        "description": "Casbin CSV in the export's format (R20)"})


def _email_or_empty(value: str) -> None:
    if value:
        validate.Email()(value)


class AccountDocument(Request):
    display_name = fields.String(required=True, validate=validate.Length(max=100))
    email = fields.String(required=True, validate=[validate.Length(max=254), _email_or_empty])
    phone = fields.String(required=True, validate=validate.Regexp(
        r"^(\+?[0-9 ()-]{3,32})?\Z", error="digits, spaces, ()- and a leading +"))
    note = fields.String(required=True, validate=validate.Length(max=2000))
    default_store = Identifier(required=True, allow_none=True)


class SettingsDocument(Request):
    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))
    max_sub_accounts = fields.Integer(required=True, validate=validate.Range(min=0,
                                                                             max=100_000))


class DirectoryDocument(Request):
    """What the Casbin CSV does not hold: with it, a tenant restored whole."""

    accounts = fields.Dict(keys=Identifier(), values=fields.Nested(AccountDocument),
                           required=True, validate=validate.Length(max=100_000))
    departments = fields.Dict(keys=Identifier(), values=fields.String(
        validate=validate.Length(max=100)), required=True)
    settings = fields.Nested(SettingsDocument, required=True)
    expiries = fields.Dict(keys=fields.String(validate=validate.Length(max=512)),
                           values=Instant(), required=True, metadata={
                               "description": "grant (as a CSV line) -> when it stops"})


class ImportRequest(PolicyFile):
    dry_run = fields.Boolean(load_default=True, metadata={
        "description": "true (default): show the plan, change nothing"})
    reason = fields.String(validate=validate.Length(max=1000))
    directory = fields.Nested(DirectoryDocument, metadata={
        "description": "export.json's directory: profiles, department names, settings "
                       "and expiries are made the document's too"})


class ExportDocument(ma.Schema):
    tenant = fields.String()
    revision = fields.Integer()
    csv = fields.String(metadata={"description": "The same bytes as export.csv"})
    directory = fields.Dict(metadata={
        "description": "accounts, departments, settings, expiries: the shape the import's "
                       "`directory` takes (expiries as ISO 8601 UTC)"})


class DecisionChange(ma.Schema):
    subject = fields.String()
    store = fields.String()
    permission = fields.String()
    second_factor = fields.Boolean()
    product = fields.String(metadata={"description": "A product check (stores run by "
                                                     "product), when it is one"})
    amount = fields.String(metadata={"description": "The amount asked at (R22: each limit "
                                                    "either policy names), when one"})
    before = fields.Boolean()
    after = fields.Boolean()


class DecisionChanges(ma.Schema):
    total = fields.Integer()
    items = fields.List(fields.Nested(DecisionChange), metadata={
        "description": "The first 1,000"})
    complete = fields.Boolean(metadata={
        "description": "false: the file reaches more decisions than a plan evaluates "
                       "(200,000); total counts those it did"})


class Flip(ma.Schema):
    time = fields.String()
    count = fields.Integer(metadata={"description": "Times it was asked in that second"})
    subject = fields.String()
    store = fields.String()
    permission = fields.String()
    second_factor = fields.Boolean()
    was = fields.Boolean()
    would_be = fields.Boolean()


class Impact(ma.Schema):
    replayed = fields.Integer(metadata={"description": "Recent logged decisions replayed"})
    flips = fields.Integer()
    items = fields.List(fields.Nested(Flip), metadata={"description": "The first 1,000"})


class ImportPlan(Revision):
    dry_run = fields.Boolean()
    added = fields.List(fields.String())
    removed = fields.List(fields.String())
    decision_changes = fields.Nested(DecisionChanges)
    recent_decisions = fields.Nested(Impact, metadata={
        "description": "Impact preview: the decision log replayed against the new policy"})


class LintFinding(ma.Schema):
    line = fields.Integer(allow_none=True)
    severity = fields.String(metadata={"description": "error or warning"})
    code = fields.String()
    message = fields.String()


class LintReport(ma.Schema):
    findings = fields.List(fields.Nested(LintFinding))


class DiffQuery(Request):
    start = fields.Integer(required=True, data_key="from", validate=validate.Range(min=0))
    end = fields.Integer(required=True, data_key="to", validate=validate.Range(min=0))


class Diff(ma.Schema):
    tenant = fields.String()
    start = fields.Integer(data_key="from", attribute="from")
    end = fields.Integer(data_key="to", attribute="to")
    revisions = fields.List(fields.Integer())
    added = fields.List(fields.String())
    removed = fields.List(fields.String())
