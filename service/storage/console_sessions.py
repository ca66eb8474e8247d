"""Console sessions on the server: started at sign-in, ended at sign-out or expiry."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, PendingRollbackError

from ..domain.errors import Unavailable
from ..domain.keys import digest
from .models import ConsoleSession, db, utcnow


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite: naive UTC


def start(key_id: str, hours: float) -> str:
    """A new session of `key_id`; returns its token (for the cookie only)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    try:
        # Sessions ended or expired a day ago are of no use to anyone: swept here.
        db.session.execute(delete(ConsoleSession).where(
            ConsoleSession.expires_at < now - timedelta(days=1)))
        db.session.add(ConsoleSession(id=digest(token), key_id=key_id, created_at=now,
                                      expires_at=now + timedelta(hours=hours)))
        db.session.commit()
    except (DBAPIError, PendingRollbackError) as exc:
        db.session.rollback()
        raise Unavailable("the database is unavailable; try signing in again") from exc
    return token


def key_of(token: str) -> str | None:
    """The key id of an open session (None: unknown, ended or expired)."""
    try:
        row = db.session.execute(select(ConsoleSession).where(
            ConsoleSession.id == digest(token))).scalar_one_or_none()
    except (DBAPIError, PendingRollbackError) as exc:
        raise Unavailable("the database is unavailable") from exc
    finally:
        db.session.rollback()
    if row is None or row.ended_at is not None or _aware(row.expires_at) <= utcnow():
        return None
    return row.key_id


def end(token: str) -> None:
    try:
        db.session.execute(update(ConsoleSession).where(ConsoleSession.id == digest(token))
                           .values(ended_at=utcnow()))
        db.session.commit()
    except (DBAPIError, PendingRollbackError) as exc:
        db.session.rollback()
        raise Unavailable("the database is unavailable; sign out again") from exc
