"""Approval requests in the database (R24): loaded into a write's directory while open,
saved by the write that changes one, and read for the queue and auditors."""

from __future__ import annotations

from dataclasses import asdict, fields

from sqlalchemy import func, insert, select, update

from ..domain.accounts import Approval
from . import failures
from .models import ApprovalRequest, db

OPEN = ("pending", "approved")
FIELDS = tuple(f.name for f in fields(Approval))


def _approval(row: ApprovalRequest) -> Approval:
    return Approval(**{name: getattr(row, name) for name in FIELDS})


def open_ones(tenant: str) -> dict[str, Approval]:
    """The tenant's requests not yet decided or used (those a write may change)."""
    rows = db.session.execute(select(ApprovalRequest).where(
        ApprovalRequest.tenant == tenant, ApprovalRequest.status.in_(OPEN))).scalars()
    return {row.id: _approval(row) for row in rows}


def save(tenant: str, approval: Approval, exists: bool) -> None:
    """Inside a write (policy_store._save_directory), which knows whether it is new."""
    values = asdict(approval)
    if exists:
        db.session.execute(update(ApprovalRequest).where(
            ApprovalRequest.tenant == tenant, ApprovalRequest.id == values.pop("id"))
            .values(**values).execution_options(synchronize_session=False))
    else:
        db.session.execute(insert(ApprovalRequest).values(tenant=tenant, **values))


def get(tenant: str, approval_id: str) -> Approval | None:
    with failures.reading():
        row = db.session.get(ApprovalRequest, (tenant, approval_id))
        return _approval(row) if row is not None else None


def find(tenant: str, now: str, *, state: str | None = None, subject: str | None = None,
         store: str | None = None, permission: str | None = None, limit: int = 50,
         offset: int = 0) -> tuple[int, list[Approval]]:
    """(how many match, one page of them, newest first). `state`: pending, approved,
    rejected, used or expired (an open request whose time has passed, `now` ISO text)."""
    where = [ApprovalRequest.tenant == tenant]
    if state == "expired":
        where += [ApprovalRequest.status.in_(OPEN), ApprovalRequest.expires_at <= now]
    elif state in OPEN:
        where += [ApprovalRequest.status == state, ApprovalRequest.expires_at > now]
    elif state is not None:
        where.append(ApprovalRequest.status == state)
    for column, value in ((ApprovalRequest.subject, subject), (ApprovalRequest.store, store),
                          (ApprovalRequest.permission, permission)):
        if value is not None:
            where.append(column == value)
    with failures.reading("the approvals"):
        total = db.session.execute(select(func.count()).select_from(ApprovalRequest)
                                   .where(*where)).scalar_one()
        rows = db.session.execute(select(ApprovalRequest).where(*where).order_by(
            ApprovalRequest.requested_at.desc(), ApprovalRequest.id)
            .limit(limit).offset(offset)).scalars().all()
        return total, [_approval(row) for row in rows]
