"""This worker's copy of the policy and keys, kept up to date from the database.

Every worker and every instance holds its own copy and, before answering, catches up with
the committed revision by replaying the ledger when either
  - a notification announced a newer revision (PostgreSQL LISTEN/NOTIFY, notifier.py), or
  - on SQLite, the file says something was committed (PRAGMA data_version), or
  - AUTHZ_SYNC_INTERVAL seconds have passed since it last looked (0: look every time),
so a change made through any worker is seen by all of them. If the database cannot be
read, the last applied state keeps answering: it is a committed state, never a guess;
writes, which need the database, fail instead. Only the request thread changes the
policy; the listener thread only records the newest revision it heard of.
"""

from __future__ import annotations

import gc
import hmac
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from ..domain import keys
from ..domain.decider import Decider
from ..domain.errors import ServiceError, StaleRevision, Unauthorized
from ..storage import keys_store, policy_store
from ..usecases import expiry
from .telemetry import DATABASE_ERRORS

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = 0.5  # seconds before a request tries the database again


class Replica:
    def __init__(self, decider: Decider, admin_key: str, sync_interval: float,
                 refused_digests: frozenset[str] = frozenset(),
                 changed: Callable[[], bool] | None = None):
        self.decider = decider
        self._refused = refused_digests  # development keys, in production mode
        self._admin_digest = keys.digest(admin_key)
        self._sync_interval = sync_interval
        # SQLite: whether anything was committed since this worker last asked (notifier.
        # SqliteWatcher); None on PostgreSQL, where notifications say so.
        self._changed = changed
        self._keys: dict[str, keys.KeyRecord] = {}
        self._keys_version = -1
        # SHA-256 of a token already verified -> (its caller, when it stops working);
        # emptied when keys change. Keyed by digest, so a look-up reveals nothing about
        # stored secrets.
        self._verified: dict[str, tuple[keys.Caller, float | None]] = {}
        self._checked_at = float("-inf")
        self._retry_at = float("-inf")
        self._announced = -1  # newest revision a notification told of
        self._recheck = True  # set when notifications may have been missed
        self.synced_at: float | None = None  # monotonic time of the last successful catch-up
        self.database_revision = -1  # the database's head when this worker last read it
        # Time-boxed grants (expiry.py): (Unix seconds, tenant, rule) soonest first, as of
        # _expiries_revision; the first request at or after _next_expiry sweeps.
        self._expiring: list = []
        self._expiries_revision = -1
        self._next_expiry = float("inf")

    @property
    def revision(self) -> int:
        return self.decider.revision

    @property
    def announced(self) -> int:
        """The newest revision a notification told of (-1: none yet)."""
        return self._announced

    # Called from the listener thread: plain assignments only.
    def announce(self, revision: int) -> None:
        if revision > self._announced:
            self._announced = revision

    def recheck(self) -> None:
        self._recheck = True

    def catch_up_due(self) -> bool:
        """Whether catch_up would look at the database now (or a grant expired)."""
        if time.time() >= self._next_expiry:
            return True
        if self._changed is not None and self._changed():
            self._recheck = True  # kept until a catch-up reads what was committed
        now = time.monotonic()
        return now >= self._retry_at and (
            self._recheck or self._announced > self.decider.revision
            or now - self._checked_at >= self._sync_interval)

    def catch_up(self, force: bool = False) -> None:
        """Apply every committed change not yet applied, when one may exist."""
        if not force and not self.catch_up_due():
            return
        now = time.monotonic()
        if not force and now < self._retry_at:  # the database failed a moment ago
            self._withdraw_expired()
            return
        self._checked_at = now
        self._recheck = False
        try:
            self._catch_up()
            self.synced_at = now
        except (SQLAlchemyError, ServiceError):
            DATABASE_ERRORS.labels("catch_up").inc()
            self._recheck = True
            self._retry_at = now + RETRY_AFTER_FAILURE
            log.warning("policy catch-up failed; serving revision %s", self.revision,
                        exc_info=True)
            self._withdraw_expired()

    def _catch_up(self) -> None:
        for _ in range(2):  # (again when the expiries just read include one already due)
            if time.time() >= self._next_expiry:
                expiry.sweep()
            self._catch_up_log()
            if self._expiries_revision != self.decider.revision:
                self._expiring = expiry.pending()
                self._expiries_revision = self.decider.revision
                self._next_expiry = self._expiring[0][0] if self._expiring else float("inf")
            if time.time() < self._next_expiry:
                return

    def _withdraw_expired(self) -> None:
        """Expired grants stop counting here even when their removal cannot be committed."""
        now = time.time()
        while self._expiring and self._expiring[0][0] <= now:
            _, tenant, rule = self._expiring.pop(0)
            self.decider.withdraw(tenant, rule)
            # the removal is still owed: read the expiries again (and sweep) once the
            # database answers
            self._expiries_revision = -1
            self._recheck = True
        self._next_expiry = self._expiring[0][0] if self._expiring else float("inf")

    def _catch_up_log(self) -> None:
        revision, keys_version = policy_store.head()
        self.database_revision = revision
        if self.decider.revision < 0:
            self._load()
        while self.decider.revision < revision:
            entries = policy_store.changes_since(self.decider.revision)
            if not entries or entries[0].revision != self.decider.revision + 1:
                # A gap means the log no longer reaches back to us: take a full snapshot.
                self._load()
                continue
            for entry in entries:
                self.decider.apply(entry.revision, entry.tenant, entry.added, entry.removed)
        if keys_version != self._keys_version:
            self._keys = {k: r for k, r in keys_store.load().items()
                          if r.secret_hash not in self._refused}
            self._keys_version = keys_version
            self._verified = {}

    def committed(self, result: policy_store.WriteResult) -> None:
        """After this worker's own commit: apply its diff straight away when nothing else
        came in between (the usual case), else catch up from the log."""
        if not result.changed:
            return
        if result.keys_changed or self.decider.revision != result.revision - 1:
            self.catch_up(force=True)
        else:
            self.decider.apply(result.revision, result.tenant, result.added, result.removed)
            self._recheck = True  # the next request reads the expiries this may have set

    def _load(self) -> None:
        base, rules = policy_store.load_all()
        self.decider.load(base, rules)
        del rules
        # A million-rule policy is millions of long-lived objects: keep the cyclic garbage
        # collector from walking them all again on every full collection (p99 spikes).
        gc.collect()
        gc.freeze()

    def require(self, revision: int | None, wait: float) -> None:
        """Be at `revision` or later before answering, or refuse after `wait` seconds."""
        if revision is None or self.decider.revision >= revision:
            return
        deadline = time.monotonic() + wait
        while True:
            self.catch_up(force=True)
            if self.decider.revision >= revision:
                return
            if self.database_revision >= 0 and revision > self.database_revision \
                    and self._retry_at <= time.monotonic():
                # No writer has committed it: waiting would only hold this worker up.
                raise StaleRevision(
                    f"revision {revision} does not exist (the newest is "
                    f"{self.database_revision})",
                    {"at_least_revision": [f"beyond the newest revision, "
                                           f"{self.database_revision}"]})
            if time.monotonic() >= deadline:
                raise StaleRevision(
                    f"revision {revision} is not available here yet (this worker is at "
                    f"{self.decider.revision}); retry",
                    {"at_least_revision": [f"not yet available; at {self.decider.revision}"]},
                )
            time.sleep(0.05)

    def staleness(self) -> float | None:
        """Seconds since the last successful catch-up."""
        return None if self.synced_at is None else time.monotonic() - self.synced_at

    def authenticate(self, header: str | None) -> keys.Caller:
        """The caller behind an `Authorization: Bearer <token>` header, or 401."""
        if not header or not header.startswith("Bearer "):
            raise Unauthorized("missing bearer token")
        token = header[7:].strip()
        digest = keys.digest(token)
        known = self._verified.get(digest)
        if known is None:
            known = self._verify(token, digest)
            if len(self._verified) < 10_000:
                self._verified[digest] = known
        caller, valid_until = known
        if valid_until is not None and time.time() >= valid_until:
            raise Unauthorized("this key has expired")  # the end of a rotation's overlap
        return caller

    def key_holder(self, key_id: str, digest: str) -> keys.Caller:
        """The tenant key `key_id` whose token hashes to `digest` (a console session keeps
        these, never the token), or 401: revoked, expired or unknown keys end sessions."""
        record = self._keys.get(key_id)
        if record is None or not hmac.compare_digest(record.secret_hash, digest):
            raise Unauthorized("this key is no longer valid")
        if record.valid_until is not None and time.time() >= record.valid_until:
            raise Unauthorized("this key has expired")
        return keys.Caller(key_id, record.scope, record.tenant)

    def _verify(self, token: str, digest: str) -> tuple[keys.Caller, float | None]:
        key_id = keys.key_id_of(token)
        if key_id is None:
            raise Unauthorized("invalid token")
        record = self._keys.get(key_id)
        if record is not None and hmac.compare_digest(record.secret_hash, digest):
            return keys.Caller(key_id, record.scope, record.tenant), record.valid_until
        if hmac.compare_digest(self._admin_digest, digest):
            return keys.Caller(key_id, keys.ADMIN, None), None
        raise Unauthorized("invalid token")
