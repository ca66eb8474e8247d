"""SQLAlchemy tables: the policy rules, the revision head and log, tenants and their keys."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

# Identifiers are at most 64 characters; the longest value the service builds is
# "role:<tenant>:<role>@<tenant>/<store>", well under this.
VALUE = 300
RULE_COLUMNS = ("v0", "v1", "v2", "v3", "v4", "v5")


def utcnow() -> datetime:
    return datetime.now(UTC)


class PolicyRule(db.Model):
    """One Casbin rule. Unused value columns hold '' (not NULL) so the unique key holds."""

    __tablename__ = "policy_rule"
    __table_args__ = (UniqueConstraint("ptype", *RULE_COLUMNS, name="uq_policy_rule"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    ptype: Mapped[str] = mapped_column(String(8))
    v0: Mapped[str] = mapped_column(String(VALUE), default="")
    v1: Mapped[str] = mapped_column(String(VALUE), default="")
    v2: Mapped[str] = mapped_column(String(VALUE), default="")
    v3: Mapped[str] = mapped_column(String(VALUE), default="")
    v4: Mapped[str] = mapped_column(String(VALUE), default="")
    v5: Mapped[str] = mapped_column(String(VALUE), default="")


class TenantHead(db.Model):
    """A tenant's latest revision. A write locks its tenant's row, so one tenant's
    revisions commit in order while other tenants' writes go on in parallel."""

    __tablename__ = "tenant_head"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerEntry(db.Model):
    """Every committed change, written in the same transaction as the change: the change
    ledger (R18). Append-only (on PostgreSQL a trigger refuses UPDATE and DELETE) and
    hash-chained per tenant: each entry's hash covers its content and the hash of the
    tenant's previous entry, so editing any row breaks the chain from there on (ledger.py
    verifies it). Entries written before per-tenant revisions (migration 0008) form one
    platform-wide chain instead, kept as it was (`platform_chain`)."""

    __tablename__ = "revision_log"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    revision: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    # JSON lists of [ptype, v0, v1, ...]: exact set differences against the previous revision.
    added: Mapped[str] = mapped_column(Text)
    removed: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(String(128), default="", server_default="")
    # JSON: what changed outside the rules (profiles, departments, settings, keys), before
    # and after.
    details: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    platform_chain: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=false())


class Tenant(db.Model):
    __tablename__ = "tenant"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    max_sub_accounts: Mapped[int] = mapped_column(Integer, default=99)
    # The console's language for this tenant (domain/accounts.LANGUAGES).
    language: Mapped[str] = mapped_column(String(16), default="en", server_default="en")


class ApiKey(db.Model):
    """A tenant's key, or an app's (R21: `tenant` NULL, `app` set): `<id>.<secret>`; only
    the SHA-256 of the whole token is kept."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    app: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    scope: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class App(db.Model):
    """An app that brings its own permissions (R21), registered by the platform admin."""

    __tablename__ = "app"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AppCatalogue(db.Model):
    """One published catalogue version of an app (domain/apps.AppVersion.document(), as
    JSON). Versions are numbered 1, 2, ... per app and never changed; the newest is the
    one tenants grant from."""

    __tablename__ = "app_catalogue"

    app: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_by: Mapped[str] = mapped_column(String(100))


class SubAccount(db.Model):
    """A sub-account's profile (R4). Where it acts and whether it is disabled are rules."""

    __tablename__ = "sub_account"
    # R4 across tenants, whose writes no longer exclude each other (migration 0008).
    __table_args__ = (
        Index("uq_sub_account_email", func.lower(text("email")), unique=True,
              sqlite_where=text("email <> ''"), postgresql_where=text("email <> ''")),
        Index("uq_sub_account_phone", "phone", unique=True,
              sqlite_where=text("phone <> ''"), postgresql_where=text("phone <> ''")),
    )

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    login: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    default_store: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Department(db.Model):
    __tablename__ = "department"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")


class DecisionLogEntry(db.Model):
    """Decisions as answered (R19): every deny, every high-risk allow, a sample of the other
    allows. Written in batches by each worker's decision-log thread, never by a request.
    The deciding rule is worked out when the entry is read, from the policy at `revision`."""

    __tablename__ = "decision_log"
    __table_args__ = (Index("ix_decision_log_tenant_at", "tenant", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # first time asked
    # The same decision asked again within one write interval is this entry, counted.
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(Integer, default=1)
    subject: Mapped[str] = mapped_column(String(64))
    store: Mapped[str] = mapped_column(String(64))
    permission: Mapped[str] = mapped_column(String(130))
    product: Mapped[str] = mapped_column(String(64), default="")
    second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(BigInteger)
    sampled: Mapped[bool] = mapped_column(Boolean, default=False)  # an allow kept by sampling
    amount: Mapped[str] = mapped_column(String(15), default="", server_default="")  # fixed width
    approval: Mapped[str] = mapped_column(String(64), default="", server_default="")
    reason: Mapped[str] = mapped_column(String(32), default="", server_default="")  # R23 code


class StoreCurrency(db.Model):
    """The currency a store's amounts are in (R22): limits are amounts in it."""

    __tablename__ = "store_currency"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))


class TenantApp(db.Model):
    """The catalogue version of an app a tenant is at (R21): written by the tenant's own
    write that installed or upgraded it, so a tenant is at a version only once that
    version's change to its rules committed."""

    __tablename__ = "tenant_app"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    app: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class ApprovalRequest(db.Model):
    """A request for a second person's approval of one action (R24): domain/approvals.py.
    Times are ISO 8601 UTC text, as rule_expiry's; "" where not yet."""

    __tablename__ = "approval_request"
    __table_args__ = (Index("ix_approval_request_tenant_status", "tenant", "status"),)

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))
    store: Mapped[str] = mapped_column(String(64))
    permission: Mapped[str] = mapped_column(String(130))
    amount: Mapped[str] = mapped_column(String(15))  # fixed width, or ""
    product: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str] = mapped_column(String(32))
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[str] = mapped_column(String(32))
    decision_note: Mapped[str] = mapped_column(Text)
    used_at: Mapped[str] = mapped_column(String(32))
    used_by: Mapped[str] = mapped_column(String(100))


class RuleExpiry(db.Model):
    """When a time-boxed grant stops counting. The rule itself is an ordinary row of
    policy_rule; at `expires_at` a worker removes it in a write of its own (actor
    system:expiry), so the ledger records the expiry like any other change."""

    __tablename__ = "rule_expiry"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(512), primary_key=True)  # the rule as CSV
    expires_at: Mapped[str] = mapped_column(String(32), index=True)  # ISO 8601 UTC, "...Z"


class ConsoleSession(db.Model):
    """A console sign-in. The cookie holds a random session token; this row (keyed by the
    token's SHA-256) is what makes it valid, so signing out ends it on every worker and
    instance, and a copied cookie stops working with it."""

    __tablename__ = "console_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token
    key_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
