"""The Casbin policy in the database: one transaction per change, and the revision log.

This replaces the stock sqlalchemy-adapter, whose defects we measured: rows rebuilt as
comma-joined text (a value with a comma became another rule), non-atomic batches, removes
that deleted extra rows, no unique key, and memory updated before the write succeeded.
Here a rule is stored column by column with a unique key; a change is one transaction
that bumps the revision, writes the exact set difference and logs it; memory is updated
only from committed log entries (see decisions.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from ..domain.accounts import Account, Directory, Settings
from ..domain.errors import Conflict, Unavailable
from ..domain.rules import Rule
from ..domain.tenant_policy import TenantPolicy
from . import notifier
from .models import (
    RULE_COLUMNS,
    Department,
    PolicyHead,
    PolicyRule,
    RevisionLog,
    SubAccount,
    Tenant,
    db,
)

T = TypeVar("T")


@dataclass(frozen=True)
class LogEntry:
    revision: int
    tenant: str
    added: tuple[Rule, ...]
    removed: tuple[Rule, ...]


def _columns(rule: Rule) -> dict[str, str]:
    values = list(rule.values) + [""] * (len(RULE_COLUMNS) - len(rule.values))
    return {"ptype": rule.ptype, **dict(zip(RULE_COLUMNS, values, strict=True))}


def _rule(row) -> Rule:
    values = [row.v0, row.v1, row.v2, row.v3, row.v4, row.v5]
    while values and values[-1] == "":
        values.pop()
    return Rule(row.ptype, tuple(values))


def _encode(rules) -> str:
    return json.dumps(sorted([r.ptype, *r.values] for r in rules))


def _decode(text: str) -> tuple[Rule, ...]:
    return tuple(Rule(item[0], tuple(item[1:])) for item in json.loads(text))


def ensure_head() -> None:
    """Create the revision head row if the database has none."""
    if db.session.get(PolicyHead, 1) is None:
        db.session.add(PolicyHead(id=1, revision=0, keys_epoch=0))
        db.session.commit()


def head() -> tuple[int, int]:
    """(policy revision, keys epoch) as committed."""
    row = db.session.execute(select(PolicyHead.revision, PolicyHead.keys_epoch)).one()
    db.session.rollback()  # end the read transaction so the next read sees new commits
    return int(row[0]), int(row[1])


def tenant_rules(tenant: str) -> list[Rule]:
    """The tenant's rules, oldest first."""
    rows = db.session.execute(
        select(PolicyRule).where(PolicyRule.tenant == tenant).order_by(PolicyRule.id)
    ).scalars()
    return [_rule(r) for r in rows]


ACCOUNT_FIELDS = ("display_name", "email", "phone", "note", "default_store")


def directory(tenant: str) -> Directory:
    """The tenant's sub-accounts, departments and settings."""
    accounts = {
        row.login: Account(row.login, **{f: getattr(row, f) for f in ACCOUNT_FIELDS})
        for row in db.session.execute(
            select(SubAccount).where(SubAccount.tenant == tenant).order_by(SubAccount.login)
        ).scalars()
    }
    departments = {
        row.id: row.name
        for row in db.session.execute(
            select(Department).where(Department.tenant == tenant).order_by(Department.id)
        ).scalars()
    }
    row = db.session.get(Tenant, tenant)
    settings = Settings(row.max_sub_accounts) if row is not None else Settings()
    return Directory(accounts, departments, settings)


def _save_directory(tenant: str, before: Directory, after: Directory) -> None:
    for login, account in after.accounts.items():
        if before.accounts.get(login) != account:
            db.session.merge(SubAccount(tenant=tenant, **asdict(account)))
    for dept, name in after.departments.items():
        if before.departments.get(dept) != name:
            db.session.merge(Department(tenant=tenant, id=dept, name=name))
    if before.settings != after.settings:
        row = db.session.get(Tenant, tenant)
        row.max_sub_accounts = after.settings.max_sub_accounts


def load_all() -> tuple[int, dict[str, list[Rule]]]:
    """Every tenant's rules, with a revision they are at least as new as.

    Rules may already include changes after that revision; replaying the log from it is
    harmless because each entry is an exact set difference (re-adding or re-removing is a
    no-op), so the caller ends at the same state either way.
    """
    revision, _ = head()
    out: dict[str, list[Rule]] = {}
    for row in db.session.execute(select(PolicyRule)).scalars():
        out.setdefault(row.tenant, []).append(_rule(row))
    db.session.rollback()
    return revision, out


def changes_since(revision: int, limit: int = 10_000) -> list[LogEntry]:
    rows = db.session.execute(
        select(RevisionLog)
        .where(RevisionLog.revision > revision)
        .order_by(RevisionLog.revision)
        .limit(limit)
    ).scalars()
    out = [LogEntry(r.revision, r.tenant, _decode(r.added), _decode(r.removed)) for r in rows]
    db.session.rollback()
    return out


@dataclass(frozen=True)
class WriteResult:
    revision: int
    changed: bool
    value: object


def write(
    tenant: str,
    actor: str,
    reason: str,
    edit: Callable[[TenantPolicy], T],
    *,
    bump_keys: bool = False,
) -> WriteResult:
    """Run `edit` on the tenant's current rules and commit its difference as one revision.

    The head row is updated first: in PostgreSQL that locks it until commit, in SQLite it
    takes the write lock, so writers are serialised and revisions commit in order. Any
    error rolls everything back; nothing reaches memory before the commit succeeds.
    """
    try:
        revision = db.session.execute(
            update(PolicyHead)
            .where(PolicyHead.id == 1)
            .values(
                revision=PolicyHead.revision + 1,
                keys_epoch=PolicyHead.keys_epoch + (1 if bump_keys else 0),
            )
            .returning(PolicyHead.revision)
        ).scalar_one()
        policy = TenantPolicy(tenant, tenant_rules(tenant), directory(tenant))
        loaded = copy.deepcopy(policy.directory)
        value = edit(policy)
        _save_directory(tenant, loaded, policy.directory)
        if not (policy.changed or bump_keys or db.session.new or db.session.dirty):
            db.session.rollback()
            return WriteResult(revision - 1, False, value)
        _apply(tenant, policy)
        db.session.add(
            RevisionLog(
                revision=revision,
                tenant=tenant,
                actor=actor,
                reason=reason or "",
                added=_encode(policy.added),
                removed=_encode(policy.removed),
            )
        )
        notifier.announce(revision)
        db.session.commit()
        return WriteResult(revision, True, value)
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("the change conflicts with a concurrent one; retry") from exc
    except OperationalError as exc:
        db.session.rollback()
        raise Unavailable("the policy database is unavailable; nothing was changed") from exc
    except BaseException:
        db.session.rollback()
        raise


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
    try:
        return TenantPolicy(tenant, tenant_rules(tenant), directory(tenant))
    except OperationalError as exc:
        raise Unavailable("the policy database is unavailable") from exc
    finally:
        db.session.rollback()
