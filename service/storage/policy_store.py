"""The Casbin policy in the database: one transaction per change, and the ledger.

This replaces the stock sqlalchemy-adapter, whose defects we measured: rows rebuilt as
comma-joined text (a value with a comma became another rule), non-atomic batches, removes
that deleted extra rows, no unique key, and memory updated before the write succeeded.
Here a rule is stored column by column with a unique key; a change is one transaction
that bumps the revision, writes the exact set difference and logs it; memory is updated
only from committed log entries (see decisions.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TypeVar

from sqlalchemy import and_, delete, event, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain import invariants
from ..domain.accounts import Account, Directory, Settings
from ..domain.errors import Conflict, NotFound, Unavailable
from ..domain.rules import Rule
from ..domain.tenant_policy import TenantPolicy
from . import failures, keys_store, ledger, notifier
from .models import (
    RULE_COLUMNS,
    Department,
    LedgerEntry,
    PolicyHead,
    PolicyRule,
    RuleExpiry,
    SubAccount,
    Tenant,
    db,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Change:
    revision: int
    tenant: str
    added: tuple[Rule, ...]
    removed: tuple[Rule, ...]


def _columns(rule: Rule) -> dict[str, str]:
    values = list(rule.values) + [""] * (len(RULE_COLUMNS) - len(rule.values))
    return {"ptype": rule.ptype, **dict(zip(RULE_COLUMNS, values, strict=True))}


def _rule(row) -> Rule:
    """A rule from (ptype, v0, ..., v5); unused trailing columns hold ''."""
    values = tuple(row[1:])
    n = len(values)
    while n and values[n - 1] == "":
        n -= 1
    return Rule(row[0], values[:n])


def _encode(rules) -> str:
    return json.dumps(sorted([r.ptype, *r.values] for r in rules))


def _decode(text: str) -> tuple[Rule, ...]:
    return tuple(Rule(item[0], tuple(item[1:])) for item in json.loads(text))


def ensure_head() -> None:
    """Create the revision head row if the database has none."""
    if db.session.get(PolicyHead, 1) is None:
        db.session.add(PolicyHead(id=1, revision=0, keys_version=0))
        db.session.commit()


def head_problem(connection=None) -> str | None:
    """Why the database cannot be served (its head behind its ledger), or None. With a
    `connection`, read through it (start-up, before any app exists)."""
    head_query = select(PolicyHead.revision)
    logged_query = select(func.max(LedgerEntry.revision))
    if connection is not None:
        head_revision = connection.execute(head_query).scalar()
        logged = connection.execute(logged_query).scalar()
    else:
        try:
            head_revision = db.session.execute(head_query).scalar()
            logged = db.session.execute(logged_query).scalar()
        finally:
            db.session.rollback()
    if head_revision is not None and logged is not None and head_revision < logged:
        return (f"the policy head is at revision {head_revision} but the ledger holds "
                f"revision {logged}: run `flask --app service init-db` (migration 0006 "
                "repairs it) before serving")
    return None


def head() -> tuple[int, int]:
    """(policy revision, keys version) as committed."""
    row = db.session.execute(select(PolicyHead.revision, PolicyHead.keys_version)).one()
    db.session.rollback()  # end the read transaction so the next read sees new commits
    return int(row[0]), int(row[1])


# Plain SQL: the ORM's per-row work was a third of a write's time.
TENANT_RULES_SQL = text(f"SELECT ptype, {', '.join(RULE_COLUMNS)} FROM policy_rule "
                        "WHERE tenant = :tenant ORDER BY id")


def tenant_rules(tenant: str) -> list[Rule]:
    """The tenant's rules, oldest first."""
    return [_rule(r) for r in db.session.execute(TENANT_RULES_SQL, {"tenant": tenant}).all()]


ACCOUNT_FIELDS = ("display_name", "email", "phone", "note", "default_store")


def directory(tenant: str, row: Tenant | None = None) -> Directory:
    """The tenant's sub-accounts, departments and settings (`row`: its tenant row, if read)."""
    accounts = {
        row[0]: Account(*row)
        for row in db.session.execute(
            select(SubAccount.login, *(getattr(SubAccount, f) for f in ACCOUNT_FIELDS))
            .where(SubAccount.tenant == tenant).order_by(SubAccount.login))
    }
    departments = dict(db.session.execute(
        select(Department.id, Department.name).where(Department.tenant == tenant)
        .order_by(Department.id)).all())
    row = row if row is not None else db.session.get(Tenant, tenant)
    settings = Settings(row.max_sub_accounts, row.language) if row is not None else Settings()
    expiries = dict(db.session.execute(
        select(RuleExpiry.rule, RuleExpiry.expires_at).where(RuleExpiry.tenant == tenant)
        .order_by(RuleExpiry.rule)).all())
    return Directory(accounts, departments, settings, expiries)


def _save_directory(tenant: str, before: Directory, after: Directory) -> dict:
    """Write what changed in the directory; returns it, before and after, for the ledger."""
    details: dict = {}
    for login, account in after.accounts.items():
        old = before.accounts.get(login)
        if old != account:
            db.session.merge(SubAccount(tenant=tenant, **asdict(account)))
            details.setdefault("accounts", {})[login] = {
                "before": asdict(old) if old else None, "after": asdict(account)}
    for dept, name in after.departments.items():
        if before.departments.get(dept) != name:
            db.session.merge(Department(tenant=tenant, id=dept, name=name))
            details.setdefault("departments", {})[dept] = {
                "before": before.departments.get(dept), "after": name}
    for rule in before.expiries.keys() | after.expiries.keys():
        old, new = before.expiries.get(rule), after.expiries.get(rule)
        if old == new:
            continue
        if new is None:
            db.session.execute(delete(RuleExpiry).where(RuleExpiry.tenant == tenant,
                                                        RuleExpiry.rule == rule))
        else:
            db.session.merge(RuleExpiry(tenant=tenant, rule=rule, expires_at=new))
        details.setdefault("expiries", {})[rule] = {"before": old, "after": new}
    if before.settings != after.settings:
        row = db.session.get(Tenant, tenant)
        row.max_sub_accounts = after.settings.max_sub_accounts
        row.language = after.settings.language
        details["settings"] = {"before": asdict(before.settings),
                               "after": asdict(after.settings)}
    return details


SNAPSHOT_SQL = "SELECT tenant, ptype, v0, v1, v2, v3, v4, v5 FROM policy_rule"


def load_all() -> tuple[int, Iterator[tuple[str, str, tuple[str, ...]]]]:
    """Every tenant's rules as (tenant, ptype, values), streamed, with a revision they are
    at least as new as.

    Rules may already include changes after that revision; replaying the log from it is
    harmless because each entry is an exact set difference (re-adding or re-removing is a
    no-op), so the caller ends at the same state either way. The caller must consume the
    stream before the session is used again.
    """
    revision, _ = head()
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        rows = _copy_rows(connection.connection.dbapi_connection)
    else:
        rows = connection.exec_driver_sql(SNAPSHOT_SQL)

    def stream() -> Iterator[tuple[str, str, tuple[str, ...]]]:
        try:
            for tenant, ptype, *values in rows:
                while values and values[-1] == "":
                    values.pop()
                yield tenant, ptype, tuple(values)
        finally:
            db.session.rollback()

    return revision, stream()


def _copy_rows(dbapi_connection) -> Iterator[list[str]]:
    """PostgreSQL COPY in text form: several times faster than fetching rows, which is most
    of a cold start at a million rules. Stored values are identifiers built by rules.py and
    cannot hold the tab, newline or backslash that COPY would escape; a row that does is
    refused rather than misread."""
    with dbapi_connection.cursor() as cursor:
        with cursor.copy(f"COPY ({SNAPSHOT_SQL}) TO STDOUT") as copy:
            tail = ""
            for block in copy:
                text_block = tail + bytes(block).decode()
                lines = text_block.split("\n")
                tail = lines.pop()
                for line in lines:
                    if "\\" in line:
                        raise ValueError(f"unexpected escaped value in policy_rule: {line!r}")
                    yield line.split("\t")


def changes_since(revision: int, limit: int = 10_000) -> list[Change]:
    rows = db.session.execute(
        select(LedgerEntry)
        .where(LedgerEntry.revision > revision)
        .order_by(LedgerEntry.revision)
        .limit(limit)
    ).scalars()
    out = [Change(r.revision, r.tenant, _decode(r.added), _decode(r.removed)) for r in rows]
    db.session.rollback()
    return out


def tenant_changes(tenant: str, after: int, up_to: int) -> list[Change]:
    """The tenant's log entries with after < revision <= up_to, in order."""
    with failures.reading():
        rows = db.session.execute(
            select(LedgerEntry).where(LedgerEntry.tenant == tenant,
                                      LedgerEntry.revision > after,
                                      LedgerEntry.revision <= up_to)
            .order_by(LedgerEntry.revision)).scalars()
        return [Change(r.revision, r.tenant, _decode(r.added), _decode(r.removed))
                for r in rows]


@dataclass(frozen=True)
class WriteResult:
    revision: int
    changed: bool
    value: object
    tenant: str = ""
    added: tuple[Rule, ...] = ()
    removed: tuple[Rule, ...] = ()
    keys_changed: bool = False


class BrokenWrite(RuntimeError):
    """Something inside a write ended or replaced its transaction: nothing is committed."""


# Set in a session's info while an edit runs: committing then is refused (_refuse_commit).
EDITING = "authz.editing"


@event.listens_for(Session, "before_commit")
def _refuse_commit(session: Session) -> None:
    if session.info.get(EDITING):
        raise BrokenWrite("an edit tried to commit its write's transaction")


def write(
    tenant: str,
    actor: str,
    reason: str,
    edit: Callable[[TenantPolicy], T],
    *,
    must_exist: bool = True,
    request_id: str = "",
) -> WriteResult:
    """Run `edit` on the tenant's unit of work (TenantPolicy: rules, directory, keys, the
    tenant row) and commit what it staged as one revision, or nothing.

    The head row is updated first: in PostgreSQL that locks it until commit, in SQLite it
    takes the write lock, so writers are serialised and revisions commit in order. The
    edit only stages; it cannot commit (refused), and if anything it calls ends the
    transaction (a rollback releases the head lock) the write is refused whole: the
    transaction must be the one that holds the lock, and the head must still be the
    revision being logged, at commit. Only this function commits or rolls back.
    `must_exist`: refuse (404) when the tenant has not been created. Every write, whoever
    makes it, is held to domain/invariants.py before it commits.
    """
    try:
        revision = _next_revision()
        transaction = db.session().get_transaction()
        row = db.session.get(Tenant, tenant)
        if row is None and must_exist:
            raise NotFound(f"no such tenant {tenant!r}", {"tenant": ["not found"]})
        policy = TenantPolicy(tenant, tenant_rules(tenant), directory(tenant, row),
                              keys_store.ring(tenant), exists=row is not None)
        loaded = policy.directory.copy()
        db.session.info[EDITING] = True
        try:
            value = edit(policy)
        finally:
            db.session.info.pop(EDITING, None)
        if db.session().get_transaction() is not transaction:
            raise BrokenWrite("the edit ended its write's transaction")
        invariants.require(policy, loaded)
        key_changes = policy.keys.changes()
        if not (policy.changed or key_changes or policy.created_name is not None
                or loaded != policy.directory):
            db.session.rollback()
            return WriteResult(revision - 1, False, value)
        if policy.created_name is not None:
            db.session.add(Tenant(id=tenant, name=policy.created_name))
            db.session.flush()
        _require_unique_contacts(tenant, loaded, policy.directory)
        details = _save_directory(tenant, loaded, policy.directory)
        if key_changes:
            details["keys"] = keys_store.save(tenant, key_changes)
            db.session.execute(update(PolicyHead).where(PolicyHead.id == 1).values(
                keys_version=PolicyHead.keys_version + 1))
        _apply(tenant, policy)
        entry = LedgerEntry(revision=revision, tenant=tenant, actor=actor, reason=reason or "",
                            added=_encode(policy.added), removed=_encode(policy.removed),
                            request_id=request_id[:128],
                            details=json.dumps(details, sort_keys=True, default=str))
        ledger.seal(entry)
        db.session.add(entry)
        db.session.flush()
        if db.session().get_transaction() is not transaction or _head_revision() != revision:
            raise BrokenWrite(f"the head is no longer revision {revision} at commit")
        db.session.commit()
        return WriteResult(revision, True, value, tenant, tuple(policy.added),
                           tuple(policy.removed), bool(key_changes))
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("the change conflicts with a concurrent one; retry") from exc
    except failures.CONNECTION_FAILURES as exc:
        db.session.rollback()
        raise Unavailable("the policy database is unavailable; nothing was changed") from exc
    except BaseException:
        db.session.rollback()
        raise


def _head_revision() -> int:
    return int(db.session.execute(select(PolicyHead.revision).where(PolicyHead.id == 1))
               .scalar_one())


def _contact(field: str, value: str) -> str:
    return value.lower() if field == "email" else value


def _require_unique_contacts(tenant: str, before: Directory, after: Directory) -> None:
    """R4: a sub-account's email (in any case) and phone belong to no other account, in
    this tenant or another. Read in the write's transaction, under the head lock."""
    for field in ("email", "phone"):
        holders: dict[str, list[str]] = {}
        changed: set[str] = set()
        for login, account in after.accounts.items():
            value = _contact(field, getattr(account, field))
            if not value:
                continue
            holders.setdefault(value, []).append(login)
            old = before.accounts.get(login)
            if old is None or _contact(field, getattr(old, field)) != value:
                changed.add(value)
        for value in sorted(changed):
            if len(holders[value]) > 1:
                raise Conflict(f"this {field} belongs to another account",
                               {field: ["already in use by another account"]})
        if not changed:
            continue
        column = getattr(SubAccount, field)
        taken = db.session.execute(select(SubAccount.login).where(
            SubAccount.tenant != tenant,
            (func.lower(column) if field == "email" else column).in_(sorted(changed)))
            .limit(1)).first()
        if taken is not None:
            raise Conflict(f"this {field} belongs to another account",
                           {field: ["already in use by another account"]})


def _next_revision() -> int:
    """Bump the head (locking it) and return the new revision. On PostgreSQL the same
    statement queues the notification, which the server delivers only if the transaction
    commits: one round trip instead of two."""
    bump = update(PolicyHead).where(PolicyHead.id == 1).values(
        revision=PolicyHead.revision + 1).returning(PolicyHead.revision)
    if db.session.get_bind().dialect.name != "postgresql":
        return db.session.execute(bump).scalar_one()
    head = bump.cte("head")
    return db.session.execute(
        select(head.c.revision, notifier.notify_sql(head.c.revision))).scalar_one()


def _apply(tenant: str, policy: TenantPolicy) -> None:
    for rule in sorted(policy.removed):
        cols = _columns(rule)
        result = db.session.execute(
            delete(PolicyRule).where(
                and_(PolicyRule.tenant == tenant, *(getattr(PolicyRule, k) == v
                                                    for k, v in cols.items()))
            )
        )
        if result.rowcount != 1:
            # The row vanished under us: refuse rather than log a removal that did not happen.
            raise Conflict(f"rule {rule.csv()!r} changed concurrently; retry")
    if policy.added:
        db.session.execute(
            insert(PolicyRule), [{"tenant": tenant, **_columns(r)} for r in policy.added]
        )


def read(tenant: str) -> TenantPolicy:
    """The tenant's rules and directory as committed, for reading."""
    with failures.reading():
        return TenantPolicy(tenant, tenant_rules(tenant), directory(tenant))


def tenant_exists(tenant: str) -> bool:
    with failures.reading():
        return db.session.get(Tenant, tenant) is not None


def tenant_language(tenant: str) -> str:
    """The tenant's console language (Settings.language), without reading its policy."""
    with failures.reading():
        row = db.session.execute(select(Tenant.language).where(Tenant.id == tenant)).first()
        return row[0] if row else Settings().language


def expiries() -> list[tuple[str, str, str]]:
    """Every time-boxed grant as (expires_at, tenant, rule CSV), soonest first."""
    with failures.reading():
        return [tuple(r) for r in db.session.execute(
            select(RuleExpiry.expires_at, RuleExpiry.tenant, RuleExpiry.rule)
            .order_by(RuleExpiry.expires_at)).all()]
