"""The decision log in the database: read here, written by runtime/decision_log.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from . import failures
from .models import DecisionLogEntry, db


def find(tenant: str, *, store: str | None = None, subject: str | None = None,
         permission: str | None = None, allowed: bool | None = None,
         reason: str | None = None, approval: str | None = None,
         since: datetime | None = None, until: datetime | None = None,
         limit: int = 50, offset: int = 0) -> tuple[int, list[DecisionLogEntry]]:
    """(how many match, one page of them, newest first)."""
    where = [DecisionLogEntry.tenant == tenant]
    for column, value in ((DecisionLogEntry.store, store), (DecisionLogEntry.subject, subject),
                          (DecisionLogEntry.permission, permission),
                          (DecisionLogEntry.allowed, allowed),
                          (DecisionLogEntry.reason, reason),
                          (DecisionLogEntry.approval, approval)):
        if value is not None:
            where.append(column == value)
    if since is not None:
        where.append(DecisionLogEntry.last_at >= since)
    if until is not None:
        where.append(DecisionLogEntry.at < until)
    with failures.reading("the decision log"):
        total = db.session.execute(select(func.count()).select_from(DecisionLogEntry)
                                   .where(*where)).scalar_one()
        rows = db.session.execute(select(DecisionLogEntry).where(*where)
                                  .order_by(DecisionLogEntry.at.desc(), DecisionLogEntry.id.desc())
                                  .limit(limit).offset(offset)).scalars().all()
        db.session.expunge_all()
        return total, rows
