"""Request and response schemas: the edge of the service. Requests reject unknown fields."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import RAISE, ValidationError, fields, validate

from ..domain import amounts, approvals, keys, reasons
from ..domain import rules as R
from ..domain.accounts import LANGUAGES
from ..domain.catalogue import OBJECTS, split_object
from ..domain.errors import InvalidInput
from ..domain.policy_admin import ALL_STORES


def _identifier(value: str) -> None:
    if not R.IDENTIFIER.fullmatch(value):
        raise ValidationError(
            "must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        )


def Identifier(**kwargs) -> fields.String:  # noqa: N802 - reads as a field type
    return fields.String(validate=_identifier, **kwargs)


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
            _identifier(item)
        return value


# -- /check --------------------------------------------------------------------------------
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
        _identifier(value)
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


CURRENCY = {"description": "ISO 4217 code of the store's currency: limits and amounts "
                           "there are in it (R22)", "example": "USD"}
LIMITS = {"description": "permission -> the most one action may move, a decimal string "
                         "(\"200.00\"), for permissions that move money (R22). On PUT, "
                         "left out: each permission kept keeps its limit"}


class NewStore(Write):
    store = Identifier(required=True)
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}\Z", error="three capital "
                                                      "letters (ISO 4217)"), metadata=CURRENCY)


class StoreCurrency(Write):
    currency = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{3}\Z", error="three capital letters (ISO 4217)"), metadata=CURRENCY)


class NewRole(Write):
    role = Identifier(required=True)
    permissions = fields.List(fields.String(), required=True)
    limits = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata=LIMITS)


class RolePermissions(Write):
    permissions = fields.List(fields.String(), required=True)
    limits = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata=LIMITS)


class Role(ma.Schema):
    role = fields.String()
    permissions = fields.List(fields.String())
    limits = fields.Dict(keys=fields.String(), values=fields.String(), metadata=LIMITS)


class Roles(Revision):
    roles = fields.List(fields.Nested(Role))


class Grantee(Write):
    subject = Identifier(metadata={"description": "A sub-account login (or give department)"})
    department = Identifier(metadata={"description": "A department (or give subject)"})


class Grant(Grantee):
    role = Identifier(required=True)
    stores = StoresField(required=True, metadata={"description": 'Store ids, or "all"'})
    expires_at = Instant(metadata={
        "description": "ISO 8601 with a zone: the grant stops counting then (a shift, a sale "
                       "event). Granting again without it makes the grant permanent."})


class Direct(Grantee):
    store = Identifier(required=True, metadata={"description": 'A store id ("all" for denies)'})
    permission = fields.String(required=True, metadata={"description": "area:action"})
    expires_at = Instant(metadata={
        "description": "Supplementary permissions only: when it stops counting"})
    limit = fields.Raw(metadata={"description": "Supplementary permissions only: the most "
                                                "one action may move, a decimal string "
                                                "(\"200.00\"), for a permission that moves "
                                                "money (R22)"})


class Stores(Write):
    stores = fields.List(Identifier(), required=True, validate=validate.Length(max=10_000))


class StoreChanges(ma.Schema):
    added = fields.List(fields.String())
    removed = fields.List(fields.String())


class AssignmentReport(Revision):
    dry_run = fields.Boolean()
    mode = fields.String()
    subjects = fields.List(fields.String())
    changes = fields.Dict(keys=fields.String(), values=fields.Nested(StoreChanges), metadata={
        "description": "login -> stores added and removed (sub-accounts with a change)"})
    default_store_changed = fields.Dict(keys=fields.String(), values=fields.String(),
                                        metadata={"description": "login -> new default store"})
    disabled = fields.List(fields.String(), metadata={"description": "left with no store"})


class StoreRevoked(Revision):
    dry_run = fields.Boolean()
    store = fields.String()
    removed_rules = fields.List(fields.String())
    default_store_changed = fields.Dict(keys=fields.String(), values=fields.String())
    disabled = fields.List(fields.String())


class Status(Write):
    disabled = fields.Boolean(required=True)


class Policy(Revision):
    stores = fields.List(fields.String())
    currencies = fields.Dict(keys=fields.String(), values=fields.String(), metadata=CURRENCY)
    roles = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    limits = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "role -> permission -> limit (R22)"})
    grants = fields.List(fields.Dict())
    permissions = fields.List(fields.Dict())
    denies = fields.List(fields.Dict())


class Reason(Write):
    pass


# -- sub-accounts, departments, settings (R4, R5, R10, R11, R14, R15) -------------------------
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


MOVES_MONEY = {"description": "moves money: checked with an amount; a grant of it may carry a "
                              "limit (R22)"}


class CataloguePermission(ma.Schema):
    name = fields.String()
    area = fields.String()
    action = fields.String()
    description = fields.String()
    high_risk = fields.Boolean()
    owner_only = fields.Boolean()
    amount = fields.Boolean(metadata=MOVES_MONEY)


class Catalogue(ma.Schema):
    version = fields.String()
    permissions = fields.List(fields.Nested(CataloguePermission))


class StoreMode(Write):
    mode = fields.String(required=True, validate=validate.OneOf(["by-store", "by-product"]))


class StoreProducts(Revision):
    store = fields.String()
    mode = fields.String()
    operators = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                            metadata={"description": "product id -> operator logins"})


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


class Health(ma.Schema):
    status = fields.String()
    tenants_held = fields.Integer(metadata={"description": "Tenants this worker holds"})
    policy_age_seconds = fields.Float(allow_none=True)
    listening = fields.Boolean()
    pid = fields.Integer()


class Ready(ma.Schema):
    ready = fields.Boolean()
    tenants_held = fields.Integer(metadata={"description": "Tenants this worker holds (it "
                                                           "loads each on demand)"})
    database = fields.String(metadata={"description": "reachable, unreachable or missing "
                                                      "(the SQLite file was deleted)"})
    policy_age_seconds = fields.Float(allow_none=True, metadata={
        "description": "Seconds since this worker last confirmed its policy is current"})
    problem = fields.String(metadata={"description": "Why the worker is not ready, or what "
                                                     "is wrong with the database"})


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


class UnusedQuery(Request):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=3650))


class UnusedGrants(ma.Schema):
    days = fields.Integer()
    grants = fields.Integer(metadata={"description": "Grants in the policy now"})
    unused = fields.List(fields.String(), metadata={"description": "Decided no logged allow"})


class ExpiringGrant(ma.Schema):
    rule = fields.String()
    expires_at = fields.String(metadata={"description": "ISO 8601 UTC"})


class ExpiringGrants(ma.Schema):
    grants = fields.List(fields.Nested(ExpiringGrant), metadata={
        "description": "Time-boxed grants not yet expired, soonest first"})


# -- apps (R21) ----------------------------------------------------------------------------
class Texts(Request):
    """A text in both of the service's languages."""

    en = fields.String(required=True, validate=validate.Length(min=1, max=200))
    zh_cn = fields.String(required=True, data_key="zh-CN",
                          validate=validate.Length(min=1, max=200))


class NewApp(Request):
    app = fields.String(required=True, metadata={
        "description": "2-32 characters of a-z, 0-9 and '-', starting with a letter: its "
                       "permissions are named <app>.<area>:<action>"})
    name = fields.Dict(required=True, metadata={
        "description": "{\"en\": ..., \"zh-CN\": ...}: the display name in both languages"})


class AppCreated(ma.Schema):
    app = fields.String()
    name = fields.Dict()
    key_id = fields.String()
    token = fields.String(metadata={"description": "The app key, shown only this once"})


class NewAppKey(Rotation):
    pass


class AppKeyCreated(ma.Schema):
    app = fields.String()
    key_id = fields.String()
    token = fields.String(metadata={"description": "Shown only this once"})
    replaced = fields.String(allow_none=True)
    replaced_until = fields.Float(allow_none=True, metadata={"description": "Unix seconds"})


class AppPermission(Request):
    name = fields.String(required=True, metadata={
        "description": "area:action, the app's own name (no app prefix)"})
    description = fields.Nested(Texts, required=True)
    high_risk = fields.Boolean(metadata={"description": "step-up (R10) can protect it"})
    owner_only = fields.Boolean(metadata={"description": "never grantable (R13)"})
    per_product = fields.Boolean(metadata={
        "description": "in a store run by product only a product's operators (R17); asked "
                       "as object <app>.<area>/product/<id>"})
    amount = fields.Boolean(metadata=MOVES_MONEY)


class AppKeyRevoked(ma.Schema):
    app = fields.String()
    key_id = fields.String()
    valid_until = fields.Float(metadata={"description": "Unix seconds: now"})


class AppCatalogueVersion(Request):
    permissions = fields.List(fields.Nested(AppPermission), required=True)
    deprecated = fields.List(fields.String(), metadata={
        "description": "Still decided, no longer grantable"})
    renames = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "old -> new name: every tenant's rules follow"})
    role_templates = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                                 metadata={"description": "added when a tenant installs"})


class Published(ma.Schema):
    app = fields.String()
    version = fields.Integer()
    republished = fields.Boolean(metadata={"description": "The newest version was sent "
                                                          "again: nothing new was published; "
                                                          "tenants behind it were brought up"})
    dry_run = fields.Boolean()
    tenants = fields.Dict(metadata={"description": "Per tenant: the rules the version "
                                                   "changed (or would change) there"})
    failed = fields.Dict(metadata={"description": "Tenants whose update failed: publish "
                                                  "again to retry them"})


class AppInfo(ma.Schema):
    app = fields.String()
    name = fields.Dict()
    version = fields.Integer(allow_none=True)
    created_at = fields.String()
    catalogue = fields.Dict(allow_none=True)
    installed_in = fields.List(fields.String())


class AppInstalled(Revision):
    app = fields.String()
    version = fields.Integer()
    role_templates_added = fields.List(fields.String())
    role_templates_skipped = fields.List(fields.String(), metadata={
        "description": "names the tenant already used: left as they were"})


class AppRemoved(Revision):
    app = fields.String()
    dry_run = fields.Boolean()
    removed_rules = fields.List(fields.String())
    roles_removed = fields.List(fields.String(), metadata={
        "description": "roles that held only this app's permissions, and their grants"})


class TenantCataloguePermission(CataloguePermission):
    app = fields.String(allow_none=True)
    per_product = fields.Boolean()
    deprecated = fields.Boolean()


class TenantCatalogue(Revision):
    apps = fields.List(fields.String())
    permissions = fields.List(fields.Nested(TenantCataloguePermission))


class AllowedPermissionsQuery(Request):
    subject = Identifier(required=True, metadata={"description": "a login, or owner"})
    store = Identifier(required=True)
    second_factor = fields.Boolean(load_default=False, metadata={
        "description": "As in /check's context: whether the user passed a second factor"})


class AllowedPermissions(Revision):
    subject = fields.String()
    store = fields.String()
    second_factor = fields.Boolean()
    permissions = fields.List(fields.String(), metadata={
        "description": "Every permission /check would allow here, sorted (an app key: its "
                       "own app's only)"})
    limits = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "The permissions allowed here only up to an amount, with the highest "
                       "(R22): /check allows them with an amount at or below it"})


class AllowedStoresQuery(Request):
    subject = Identifier(required=True, metadata={"description": "a login, or owner"})
    permission = fields.String(required=True, metadata={"description": "area:action"})
    second_factor = fields.Boolean(load_default=False)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AllowedStores(Revision):
    subject = fields.String()
    permission = fields.String()
    total = fields.Integer(metadata={"description": "All matches; the pages are complete"})
    page = fields.Integer()
    per_page = fields.Integer()
    stores = fields.List(fields.String())


class AppGrant(Request):
    subject = fields.String(required=True)
    store = fields.String(required=True, metadata={"description": "a store, or all: every "
                                                   "store the sub-account is assigned"})
    permissions = fields.List(fields.String(), required=True, metadata={
        "description": "the app's own names (area:action, no app prefix)"})


class AppGrantsImport(Write):
    grants = fields.List(fields.Nested(AppGrant), validate=validate.Length(min=1, max=10_000),
                         metadata={"description": "each problem is named by its item"})
    csv = fields.String(validate=validate.Length(min=1, max=2_000_000), metadata={
        "description": "instead of grants: the app's own settings as a file, one line per "
                       "sub-account and store: subject, store (or all), permission[, "
                       "permission...]; each problem is named by its line"})

    @ma.validates_schema
    def one_of(self, data, **kwargs):
        if ("grants" in data) == ("csv" in data):
            raise ValidationError("give exactly one of grants and csv", "grants")
    dry_run = fields.Boolean(load_default=True, metadata={
        "description": "Report what would change and every problem (default); false "
                       "applies it as one revision"})


class AppGrantsImported(Revision):
    app = fields.String()
    dry_run = fields.Boolean()
    added = fields.List(fields.String())
    already_granted = fields.List(fields.String())


class AvailableApp(ma.Schema):
    app = fields.String()
    name = fields.Dict()
    version = fields.Integer(allow_none=True, metadata={"description": "newest published"})
    installed = fields.Boolean()


class AvailableApps(ma.Schema):
    apps = fields.List(fields.Nested(AvailableApp))


# -- approvals (R24) --------------------------------------------------------------------------
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
