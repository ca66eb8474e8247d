"""The Casbin policy in the database: one transaction per change, and the ledger.

This replaces the stock sqlalchemy-adapter, whose defects we measured: rows rebuilt as
comma-joined text (a value with a comma became another rule), non-atomic batches, removes
that deleted extra rows, no unique key, and memory updated before the write succeeded.
Here a rule is stored column by column with a unique key; a change is one transaction
that bumps the revision, writes the exact set difference and logs it (SqlTenantStore, the
port the unit of work writes through: usecases/unit_of_work.py); memory is updated only
from committed log entries (runtime/replica.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, event, func, insert, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain import apps, clock
from ..domain import rules as R
from ..domain.accounts import Account, Approval, Directory, TenantSettings
from ..domain.catalogue import BUILT_IN, Catalogue
from ..domain.errors import Conflict, ServiceError, Unavailable
from ..domain.revisions import (
    Appended,
    BrokenWrite,
    HeldTenant,
    Logged,
    Revision,
    Snapshot,
    ends,
)
from ..domain.rules import Rule
from ..domain.tenant_policy import Change, CommittedRules, TenantPolicy, expiry_text
from . import approvals_store, apps_store, failures, keys_store, ledger, notifier
from .models import (
    RULE_COLUMNS,
    Department,
    LedgerEntry,
    PolicyRule,
    RuleExpiry,
    StoreCurrency,
    SubAccount,
    Tenant,
    TenantApp,
    TenantHead,
    db,
)


def _columns(rule: Rule) -> dict[str, str]:
    values = list(rule.values) + [""] * (len(RULE_COLUMNS) - len(rule.values))
    return {"ptype": rule.ptype, **dict(zip(RULE_COLUMNS, values, strict=True))}


def _values(row) -> tuple[str, ...]:
    """The values of a (ptype, v0, ..., v5) row; unused trailing columns hold ''."""
    values = tuple(row[1:])
    n = len(values)
    while n and values[n - 1] == "":
        n -= 1
    return values[:n]


def encode_rules(rules, *, in_order: bool = False) -> str:
    """Rules as a ledger entry keeps them: sorted, or `in_order` (the rules a revision
    added, in the order they were written: the order R15's "earliest assigned store"
    reads, which a worker catching up from the ledger must keep)."""
    items = [[r.ptype, *r.values] for r in rules]
    return json.dumps(items if in_order else sorted(items))


def _decode(text: str) -> tuple[Rule, ...]:
    return tuple(Rule(item[0], tuple(item[1:])) for item in json.loads(text))


def repair_heads() -> None:
    """Move a tenant head left behind its ledger (the issue-16 defect could leave one) up
    to the tenant's newest logged revision, and give every tenant a head. Run by init-db."""
    db.session.execute(text(
        "UPDATE tenant_head SET revision = (SELECT max(l.revision) FROM revision_log l "
        "WHERE l.tenant = tenant_head.tenant) WHERE revision < (SELECT coalesce("
        "max(l.revision), 0) FROM revision_log l WHERE l.tenant = tenant_head.tenant)"))
    db.session.execute(text(
        "INSERT INTO tenant_head (tenant, revision) SELECT id, coalesce((SELECT "
        "max(l.revision) FROM revision_log l WHERE l.tenant = tenant.id), 0) FROM tenant "
        "WHERE id NOT IN (SELECT tenant FROM tenant_head)"))
    db.session.commit()


# One index probe per tenant (revision_log's key is (tenant, revision)).
BEHIND_SQL = text(
    "SELECT h.tenant, h.revision, (SELECT max(l.revision) FROM revision_log l "
    "WHERE l.tenant = h.tenant) AS logged FROM tenant_head h WHERE h.revision < "
    "(SELECT coalesce(max(l.revision), 0) FROM revision_log l WHERE l.tenant = h.tenant) "
    "ORDER BY h.tenant LIMIT 1")


def head_problem(connection=None) -> str | None:
    """Why the database cannot be served (a tenant's head behind its ledger), or None.
    With a `connection`, read through it (start-up, before any app exists)."""
    if connection is not None:
        row = connection.execute(BEHIND_SQL).first()
    else:
        try:
            row = db.session.execute(BEHIND_SQL).first()
        finally:
            db.session.rollback()
    if row is None:
        return None
    return (f"tenant {row[0]}'s head is at revision {row[1]} but its ledger holds revision "
            f"{row[2]}: run `flask --app service init-db` (it repairs the head) before "
            "serving")


def ping() -> None:
    """Raise when the database does not answer."""
    try:
        db.session.execute(select(1)).scalar()
    finally:
        db.session.rollback()


def head(tenant: str) -> int:
    """The tenant's revision as committed (0: none yet)."""
    with failures.reading():
        value = db.session.execute(select(TenantHead.revision)
                                   .where(TenantHead.tenant == tenant)).scalar()
    return int(value or 0)


def heads(tenants) -> dict[str, int]:
    """The committed revision of each of `tenants` that has one: one query, however many
    (a worker's poll for the tenants it holds)."""
    tenants = list(tenants)
    if not tenants:
        return {}
    if db.session.get_bind().dialect.name == "postgresql":
        statement = text("SELECT tenant, revision FROM tenant_head WHERE tenant = ANY(:t)")
        parameters = {"t": tenants}
    else:
        statement = text("SELECT tenant, revision FROM tenant_head WHERE tenant IN "
                         "(SELECT value FROM json_each(:t))")
        parameters = {"t": json.dumps(tenants)}
    with failures.reading():
        return {t: int(r) for t, r in db.session.execute(statement, parameters).all()}


def tenant_rules(tenant: str) -> list[Rule]:
    """The tenant's rules, oldest first."""
    # (.all(): the driver's fetchall, a third less CPU than a fetch per row at 820 rules)
    return [Rule(r[0], _values(r))
            for r in db.session.execute(TENANT_RULES_SQL, {"tenant": tenant}).all()]


def catalogue(rules: list[Rule], versions: dict[str, int]) -> Catalogue:
    """The tenant's catalogue: the built-in permissions and, of each app its rules say it
    installed, the version it is at (`versions`), read in the caller's transaction."""
    installed = [r.values[0][len(R.APP_PREFIX):] for r in rules
                 if r.ptype == "g2" and r.values[0].startswith(R.APP_PREFIX)]
    if not installed:
        return BUILT_IN
    return apps.catalogue_of(apps_store.at_versions({a: versions.get(a) for a in installed}))


ACCOUNT_FIELDS = ("display_name", "email", "phone", "note", "default_store")


def directory(tenant: str, row: Tenant | None = None) -> Directory:
    """The tenant's sub-accounts, departments and settings (`row`: its tenant row, if read)."""
    accounts = {
        row[0]: Account(*row)
        for row in db.session.execute(
            select(SubAccount.login, *(getattr(SubAccount, f) for f in ACCOUNT_FIELDS))
            .where(SubAccount.tenant == tenant).order_by(SubAccount.login)).all()
    }
    departments = dict(db.session.execute(
        select(Department.id, Department.name).where(Department.tenant == tenant)
        .order_by(Department.id)).all())
    row = row if row is not None else db.session.get(Tenant, tenant)
    settings = (TenantSettings(row.max_sub_accounts, row.language) if row is not None
                else TenantSettings())
    expiries = dict(db.session.execute(
        select(RuleExpiry.rule, RuleExpiry.expires_at).where(RuleExpiry.tenant == tenant)
        .order_by(RuleExpiry.rule)).all())
    currencies = dict(db.session.execute(
        select(StoreCurrency.store, StoreCurrency.currency)
        .where(StoreCurrency.tenant == tenant)).all())
    app_versions = dict(db.session.execute(
        select(TenantApp.app, TenantApp.version).where(TenantApp.tenant == tenant)).all())
    return Directory(accounts, departments, settings, expiries, currencies,
                     approvals_store.open_ones(tenant), app_versions)


def _save_directory(tenant: str, details: dict) -> None:
    """Write the directory's changes as the ledger records them (revisions.
    directory_details): each is one INSERT or UPDATE, with no read first, since the
    entry says whether the row existed."""
    for login, change in details.get("accounts", {}).items():
        _save_row(SubAccount, {"tenant": tenant, "login": login},
                  {k: v for k, v in change["after"].items() if k != "login"},
                  change["before"] is not None)
    for dept, change in details.get("departments", {}).items():
        _save_row(Department, {"tenant": tenant, "id": dept}, {"name": change["after"]},
                  change["before"] is not None)
    for name, model, key, value in MAPS:
        _save_map(tenant, details.get(name, {}), model, key, value)
    for change in details.get("approvals", {}).values():
        approvals_store.save(tenant, Approval(**change["after"]),
                             exists=change["before"] is not None)
    if "settings" in details:
        _save_row(Tenant, {"id": tenant}, details["settings"]["after"], True)


# The directory's maps of one row per key: (ledger name, table, key column, value column).
MAPS = (("expiries", RuleExpiry, RuleExpiry.rule, "expires_at"),
        ("currencies", StoreCurrency, StoreCurrency.store, "currency"),
        ("app_versions", TenantApp, TenantApp.app, "version"))


def _save_row(model, key: dict, values: dict, exists: bool) -> None:
    """One row of the directory, by its primary key: updated, or inserted when new."""
    if exists:
        db.session.execute(update(model).where(*(getattr(model, k) == v for k, v in key.items()))
                           .values(**values).execution_options(synchronize_session=False))
    else:
        db.session.execute(insert(model).values(**key, **values))


def _save_map(tenant: str, changes: dict, model, key, value: str) -> None:
    """A directory map's changed keys (new ones in one INSERT, gone ones in one DELETE)."""
    new_rows, gone = [], []
    for item, change in changes.items():
        if change["after"] is None:
            gone.append(item)
        elif change["before"] is None:
            new_rows.append({"tenant": tenant, key.key: item, value: change["after"]})
        else:
            _save_row(model, {"tenant": tenant, key.key: item}, {value: change["after"]}, True)
    if gone:
        db.session.execute(delete(model).where(model.tenant == tenant, key.in_(gone))
                           .execution_options(synchronize_session=False))
    if new_rows:
        db.session.execute(insert(model), new_rows)


SNAPSHOT_HEAD_SQL = text("SELECT t.id, h.revision FROM tenant t LEFT JOIN tenant_head h "
                         "ON h.tenant = t.id WHERE t.id = :tenant")
EXPIRIES_SQL = text("SELECT rule, expires_at FROM rule_expiry WHERE tenant = :tenant")


# Plain SQL: the ORM's per-row work was a third of a write's time.
TENANT_RULES_SQL = text(f"SELECT ptype, {', '.join(RULE_COLUMNS)} FROM policy_rule "
                        "WHERE tenant = :tenant ORDER BY id")


def snapshot(tenant: str) -> Snapshot:
    """The tenant's rules, keys and time-boxed grants, and the revision they are at, read
    as of one moment. Plain SQL and no Rule objects: this is a cold load, on the request
    that needs the tenant."""
    parameters = {"tenant": tenant}
    with failures.reading():
        # One moment for all of it: a sweep committing between the rules and the ends
        # would leave a rule without its end, allowed until its removal was applied.
        _one_snapshot()
        try:
            row = db.session.execute(SNAPSHOT_HEAD_SQL, parameters).first()
            if row is None:
                return Snapshot(0, False, [], [], {})
            rules = [(r[0], _values(r))
                     for r in db.session.execute(TENANT_RULES_SQL, parameters).all()]
            return Snapshot(int(row[1] or 0), True, rules, keys_store.records(tenant),
                            dict(db.session.execute(EXPIRIES_SQL, parameters).all()))
        finally:
            _end_snapshot()


def tenant_changes(tenant: str, after: int, up_to: int | None = None) -> list[Change]:
    """The tenant's log entries with after < revision (<= up_to), in order."""
    statement = select(LedgerEntry.revision, LedgerEntry.added, LedgerEntry.removed,
                       LedgerEntry.details).where(LedgerEntry.tenant == tenant,
                                                  LedgerEntry.revision > after)
    if up_to is not None:
        statement = statement.where(LedgerEntry.revision <= up_to)
    with failures.reading():
        rows = db.session.execute(statement.order_by(LedgerEntry.revision)).all()
        return [Change(r.revision, tenant, _decode(r.added), _decode(r.removed),
                       '"keys"' in (r.details or ""),
                       ends(json.loads(r.details))
                       if '"expiries"' in (r.details or "") else (),
                       json.loads(r.details).get("trace", "")
                       if '"trace"' in (r.details or "") else "")
                for r in rows]


# Set in a session's info while an edit runs: committing then is refused (_refuse_commit).
EDITING = "authz.editing"
TRANSACTION = "authz.write_transaction"  # the transaction a write's lock opened


@event.listens_for(Session, "before_commit")
def _refuse_commit(session: Session) -> None:
    if session.info.get(EDITING):
        raise BrokenWrite("an edit tried to commit its write's transaction")


class SqlTenantStore:
    """The tenants' revisions in the database (domain/revisions.TenantStore), in the
    session's transaction. The head row is updated first: in PostgreSQL that locks it
    until commit (only that tenant's writes wait; other tenants' commit in parallel), in
    SQLite it takes the file's write lock, so a tenant's revisions commit in order. If
    anything ends the transaction before commit (a rollback releases the head lock), the
    write is refused whole: the transaction must be the one that holds the lock, and the
    head must still be the revision being logged, at commit. Stateless: what a write
    needs is in its session."""

    def lock(self, tenant: str) -> int:
        revision = _next_revision(tenant)
        db.session.info[TRANSACTION] = db.session().get_transaction()
        return revision

    def load(self, tenant: str, at: int) -> HeldTenant:
        row = db.session.get(Tenant, tenant)
        if row is None:
            return HeldTenant(at, CommittedRules(tenant), Directory(), (), BUILT_IN,
                              ledger.last_hash(tenant), exists=False)
        rules = tenant_rules(tenant)
        held = directory(tenant, row)
        return HeldTenant(at, CommittedRules(tenant, rules), held, keys_store.staged(tenant),
                          catalogue(rules, held.app_versions), ledger.last_hash(tenant))

    def since(self, tenant: str, after: int, to: int) -> list[Logged]:
        rows = db.session.execute(
            select(LedgerEntry.revision, LedgerEntry.added, LedgerEntry.removed,
                   LedgerEntry.details, LedgerEntry.hash)
            .where(LedgerEntry.tenant == tenant, LedgerEntry.revision > after,
                   LedgerEntry.revision <= to)
            .order_by(LedgerEntry.revision)).all()
        return [Logged(r.revision, _decode(r.added), _decode(r.removed),
                       json.loads(r.details or "{}"), r.hash) for r in rows]

    def keys(self, tenant: str) -> tuple:
        return keys_store.staged(tenant)

    def catalogue(self, rules, versions: dict[str, int]) -> Catalogue:
        return catalogue(list(rules), versions)

    @contextmanager
    def editing(self) -> Iterator[None]:
        db.session.info[EDITING] = True
        try:
            yield
        finally:
            db.session.info.pop(EDITING, None)
        if db.session().get_transaction() is not db.session.info.get(TRANSACTION):
            raise BrokenWrite("the edit ended its write's transaction")

    def contact_taken(self, tenant: str, field: str, values: set[str]) -> bool:
        column = getattr(SubAccount, field)
        return db.session.execute(select(SubAccount.login).where(
            SubAccount.tenant != tenant,
            (func.lower(column) if field == "email" else column).in_(sorted(values)))
            .limit(1)).first() is not None

    def append(self, revision: Revision) -> Appended:
        tenant = revision.tenant
        if revision.created_name is not None:
            db.session.add(Tenant(id=tenant, name=revision.created_name))
            db.session.flush()
        _save_directory(tenant, revision.details)
        keys_after = None
        if revision.key_changes:
            keys_store.save(tenant, revision.key_changes)
            keys_after = keys_store.staged(tenant)  # as stored (ends at the column's precision)
        _apply(tenant, revision.added, revision.removed)
        entry = LedgerEntry(revision=revision.number, tenant=tenant, actor=revision.actor,
                            reason=revision.reason,
                            added=encode_rules(revision.added, in_order=True),
                            removed=encode_rules(revision.removed), request_id=revision.request_id,
                            details=json.dumps(revision.details, sort_keys=True, default=str))
        ledger.seal(entry, revision.previous_hash)
        # one INSERT of the sealed row, without the ORM's unit of work (a third of a write)
        db.session.execute(LedgerEntry.__table__.insert(), {
            c.key: getattr(entry, c.key) for c in LedgerEntry.__table__.columns
            if c.key != "platform_chain"})
        if db.session().get_transaction() is not db.session.info.get(TRANSACTION) \
                or _head_revision(tenant) != revision.number:
            raise BrokenWrite(f"the head is no longer revision {revision.number} at commit")
        return Appended(entry.hash, keys_after)

    def commit(self) -> None:
        db.session.info.pop(TRANSACTION, None)
        db.session.commit()

    def rollback(self) -> None:
        db.session.info.pop(TRANSACTION, None)
        db.session.rollback()

    def refusal(self, exc: BaseException) -> ServiceError | None:
        if isinstance(exc, IntegrityError):
            for field in ("email", "phone"):  # the unique indexes of R4 (models.SubAccount)
                if f"uq_sub_account_{field}" in str(exc.orig) \
                        or f"sub_account.{field}" in str(exc.orig):
                    return Conflict(f"this {field} belongs to another account",
                                    {field: ["already in use by another account"]})
            return Conflict("the change conflicts with a concurrent one; retry")
        if isinstance(exc, failures.CONNECTION_FAILURES):
            return Unavailable("the policy database is unavailable; nothing was changed")
        return None

    def read(self, tenant: str) -> TenantPolicy:
        return read(tenant)

    def exists(self, tenant: str) -> bool:
        return tenant_exists(tenant)

    def ended(self, cutoff: str) -> list[str]:
        return ended(cutoff)

    def approval(self, tenant: str, approval_id: str) -> Approval | None:
        return approvals_store.get(tenant, approval_id)

    def approvals(self, tenant: str, now: str, **query) -> tuple[int, list[Approval]]:
        return approvals_store.find(tenant, now, **query)

    # -- the worker's reads (domain/revisions.TenantSource) --------------------------------
    def snapshot(self, tenant: str) -> Snapshot:
        return snapshot(tenant)

    def heads(self, tenants) -> dict[str, int]:
        return heads(tenants)

    def head(self, tenant: str) -> int:
        return head(tenant)

    def changes(self, tenant: str, after: int, up_to: int | None = None) -> list[Change]:
        return tenant_changes(tenant, after, up_to)

    def working_keys(self, tenant: str) -> list:
        return keys_store.load(tenant)

    def key(self, key_id: str):
        return keys_store.find(key_id)


SQL = SqlTenantStore()


def _head_revision(tenant: str) -> int:
    return int(db.session.execute(HEAD_SQL, {"tenant": tenant}).scalar_one())


# The statements every write makes, as text: built once, so a write spends no time on
# SQLAlchemy's statement construction (a third of a write's CPU when built each time).
BUMP_SQL = {
    "sqlite": text("INSERT INTO tenant_head (tenant, revision) VALUES (:tenant, 1) "
                   "ON CONFLICT (tenant) DO UPDATE SET revision = tenant_head.revision + 1 "
                   "RETURNING revision"),
    # the notification "<tenant> <revision>" is queued by the same statement
    "postgresql": text("WITH head AS (INSERT INTO tenant_head (tenant, revision) VALUES "
                       "(:tenant, 1) ON CONFLICT (tenant) DO UPDATE SET revision = "
                       "tenant_head.revision + 1 RETURNING revision) SELECT head.revision, "
                       f"pg_notify('{notifier.CHANNEL}', :tenant || ' ' || "
                       "CAST(head.revision AS TEXT)) FROM head"),
}
HEAD_SQL = text("SELECT revision FROM tenant_head WHERE tenant = :tenant")


def _next_revision(tenant: str) -> int:
    """Bump the tenant's head (locking its row; created at 1 for a new tenant) and return
    the new revision. On PostgreSQL the same statement queues the notification "<tenant>
    <revision>", which the server delivers only if the transaction commits."""
    dialect = db.session.get_bind().dialect.name
    return int(db.session.execute(BUMP_SQL[dialect], {"tenant": tenant}).scalar_one())


def _apply(tenant: str, added, removed) -> None:
    """The rules' exact set difference: one DELETE and one INSERT at most (Core statements
    on the table: no ORM bookkeeping)."""
    table = PolicyRule.__table__
    if removed:
        columns = [table.c.ptype, *(table.c[c] for c in RULE_COLUMNS)]
        rows = [tuple(_columns(rule).values()) for rule in sorted(removed)]
        result = db.session.execute(
            table.delete().where(table.c.tenant == tenant, tuple_(*columns).in_(rows)))
        if result.rowcount != len(rows):
            # A row vanished under us: refuse rather than log a removal that did not happen.
            raise Conflict("a rule changed concurrently; retry")
    if added:
        db.session.execute(table.insert(), [{"tenant": tenant, **_columns(r)} for r in added])


def _one_snapshot() -> None:
    """Read what follows as of one moment (PostgreSQL reads each statement as of its own
    start otherwise), so the revision read names exactly the rules read."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.rollback()  # (a read outside any write: nothing of it is lost)
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _end_snapshot() -> None:
    """End _one_snapshot's read-only transaction, so that a write after it in the same
    request starts its own at the default isolation (it waits for a tenant's head lock
    rather than failing to serialise)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.rollback()


def read(tenant: str) -> TenantPolicy:
    """The tenant's rules and directory as committed, with their revision, for reading."""
    with failures.reading():
        _one_snapshot()
        revision = db.session.execute(select(TenantHead.revision)
                                      .where(TenantHead.tenant == tenant)).scalar()
        rules = tenant_rules(tenant)
        held = directory(tenant)
        policy = TenantPolicy(tenant, rules, held, revision=int(revision or 0),
                              catalogue=catalogue(rules, held.app_versions))
        policy.end_expired(expiry_text(clock.utcnow()))  # what is in force now
        return policy


def tenant_exists(tenant: str) -> bool:
    with failures.reading():
        return db.session.get(Tenant, tenant) is not None


def tenant_language(tenant: str) -> str:
    """The tenant's console language (TenantSettings.language), without reading its policy."""
    with failures.reading():
        row = db.session.execute(select(Tenant.language).where(Tenant.id == tenant)).first()
        return row[0] if row else TenantSettings().language


def ended(cutoff: str) -> list[str]:
    """The tenants with a time-boxed grant whose end (expiry_text) is at or before
    `cutoff`, by the end's index: the sweep reads only what has ended."""
    with failures.reading():
        return list(db.session.execute(
            select(RuleExpiry.tenant).where(RuleExpiry.expires_at <= cutoff).distinct()
            .order_by(RuleExpiry.tenant)).scalars())
