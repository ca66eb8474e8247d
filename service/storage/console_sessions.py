"""Console sessions on the server: started at sign-in, ended at sign-out or expiry."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from ..domain.keys import digest
from . import failures
from .models import ConsoleSession, db, utcnow


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite: naive UTC


def start(key_id: str, hours: float) -> str:
    """A new session of `key_id`; returns its token (for the cookie only)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with failures.committing():
        # Sessions ended or expired a day ago are of no use to anyone: swept here.
        db.session.execute(delete(ConsoleSession).where(
            ConsoleSession.expires_at < now - timedelta(days=1)))
        db.session.add(ConsoleSession(id=digest(token), key_id=key_id, created_at=now,
                                      expires_at=now + timedelta(hours=hours)))
        db.session.commit()
    return token


def key_of(token: str) -> str | None:
    """The key id of an open session (None: unknown, ended or expired)."""
    with failures.reading("the database"):
        row = db.session.execute(select(ConsoleSession).where(
            ConsoleSession.id == digest(token))).scalar_one_or_none()
    if row is None or row.ended_at is not None or _aware(row.expires_at) <= utcnow():
        return None
    return row.key_id


def end(token: str) -> None:
    with failures.committing():
        db.session.execute(update(ConsoleSession).where(ConsoleSession.id == digest(token))
                           .values(ended_at=utcnow()))
        db.session.commit()
