"""Storage failures mapped to the service's errors in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, PendingRollbackError

from ..domain.errors import Unavailable
from .models import db

# What a lost or cut connection raises: DBAPIError wraps the driver's errors; a session
# whose connection failed mid-transaction raises PendingRollbackError until rolled back.
CONNECTION_FAILURES = (DBAPIError, PendingRollbackError)


@contextmanager
def reading(what: str = "the policy database") -> Iterator[None]:
    """A read outside any write: a failure is Unavailable (503, or a deny on /check), and
    the read transaction always ends, so the next read sees newer commits."""
    try:
        yield
    except CONNECTION_FAILURES as exc:
        raise Unavailable(f"{what} is unavailable") from exc
    finally:
        db.session.rollback()


@contextmanager
def committing(what: str = "the database") -> Iterator[None]:
    """A small write of its own (not a policy write): committed by the caller inside;
    on failure rolled back and Unavailable."""
    try:
        yield
    except CONNECTION_FAILURES as exc:
        db.session.rollback()
        raise Unavailable(f"{what} is unavailable; nothing was changed") from exc


def recover() -> None:
    """End a transaction a failure left open, so the session can be used again."""
    db.session.rollback()
