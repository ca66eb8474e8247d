"""This worker's copy of the tenants it serves, loaded on demand and kept up to date.

A worker holds no tenant at start. The first request that needs a tenant (a check, or a
key of that tenant seen for the first time) loads it: its rules, its keys and a revision
they are at least as new as. Within AUTHZ_TENANT_CACHE_MB the least recently used
tenants are dropped to make room; a tenant dropped and needed again is loaded as it is
then, so it is current.

A held tenant catches up with its committed revision by replaying its ledger entries
when either
  - a notification named it with a newer revision (PostgreSQL LISTEN/NOTIFY, notifier.py),
  - on SQLite, the file says something was committed (PRAGMA data_version), or
  - AUTHZ_SYNC_INTERVAL seconds have passed since this worker last looked: one query for
    the heads of every tenant it holds (a notification may have been lost).
On PostgreSQL with notifications on, those reads are the follower's (runtime/follower.py),
a thread of each worker: a request only applies, in memory, what the follower has read,
so a stalled or unreachable database never holds up a /check of a held tenant
(X-Policy-Age grows instead). If the database cannot be read, held tenants keep
answering from the last state applied (a committed state, never a guess), and a tenant
not held is denied: there is nothing to decide it from. Only the request thread changes
what is held; the listener and the follower only queue what they heard and read.

The end of a time-boxed grant is part of the held state: every load and every revision
applied brings the ends it set (Change.ends), and a request at or after an end withdraws
the grant from this worker's copy before deciding, whenever the tenant was loaded and
whether or not the database answers. The sweep (usecases/expiry.py, run by
runtime/background.py) only tidies the rules afterwards; its removal of a rule already
withdrawn changes nothing here.
"""

from __future__ import annotations

import gc
import heapq
import hmac
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError

from ..domain import clock, keys
from ..domain import rules as R
from ..domain.decider import Decider
from ..domain.errors import (
    ServiceError,
    StaleRevision,
    TenantUnavailable,
    Unauthorized,
)
from ..domain.revisions import Snapshot, TenantSource, WriteResult
from ..domain.tenant_policy import Change
from . import tracing
from .telemetry import DATABASE_ERRORS, TENANT_EVICTIONS, TENANT_LOADS

log = logging.getLogger(__name__)
_pause = time.sleep  # a wait for a revision (tests replace this one, not time.sleep)

RETRY_AFTER_FAILURE = 0.5  # seconds before a request tries the database again
# Beyond this many entries behind, a held tenant is loaded again rather than replayed.
RELOAD_AFTER = 2_000
# What a held rule costs in memory, for the budget: measured with the bench platform's
# tenants (bench/scale.py prints RSS with and without a budget to check it).
RULE_BYTES = 240
TENANT_BYTES = 20_000  # the index, keys and bookkeeping of a tenant beyond its rules
UNKNOWN_KEYS = 10_000  # key ids remembered as unknown (each would cost a database read)
# An app's key belongs to no tenant, so no tenant's ledger says when it changes: it is
# looked up again this many seconds after it was last read (how soon a revoked or
# expired app key stops working on every worker).
APP_KEY_SECONDS = 1.0


class NeedsDatabase(Exception):
    """Answering needs the database (a tenant or key not held here): the caller on the
    in-memory fast path hands the request to the full path, which has it."""


class Replica:
    def __init__(self, decider: Decider, admin_key: str, sync_interval: float,
                 refused_digests: frozenset[str] = frozenset(),
                 changed: Callable[[], bool] | None = None,
                 cache_mb: float | None = None,
                 sweep: Callable[[], list[tuple[str, int]]] = list, *,
                 source: TenantSource):
        self.decider = decider
        # where tenants are read from (storage/policy_store.SqlTenantStore in a worker)
        self._source = source
        # the use case that tidies ended grants (usecases/expiry.py), handed in by create_app
        self._sweep_ended = sweep
        self._refused = refused_digests  # development keys, in production mode
        self._admin_digest = keys.digest(admin_key)
        self._sync_interval = sync_interval
        # SQLite: whether anything was committed since this worker last asked (notifier.
        # SqliteWatcher); None on PostgreSQL, where notifications say so.
        self._changed = changed
        self._budget = None if cache_mb is None else int(cache_mb * 1024 * 1024)
        # held tenant -> what it costs (as last loaded or caught up), least recent first
        self._used: OrderedDict[str, int] = OrderedDict()
        self._bytes = 0
        self._keys: dict[str, keys.KeyRecord] = {}  # the held tenants' keys, by key id
        self._unknown: dict[str, float] = {}  # key id -> monotonic time it was not found
        self._app_keys_read: dict[str, float] = {}  # app key id -> monotonic time read
        # SHA-256 of a token already verified -> (its caller, when it stops working);
        # emptied when keys change. Keyed by digest, so a look-up reveals nothing about
        # stored secrets.
        self._verified: dict[str, tuple[keys.Caller, float | None]] = {}
        self._checked_at = float("-inf")
        self._retry_at = float("-inf")
        self._inbox: deque[tuple[str, int]] = deque()  # (tenant, revision) heard of
        self._announced: dict[str, int] = {}  # held tenant -> newest revision heard of
        self._recheck = True  # set when notifications may have been missed
        self.synced_at: float | None = None  # monotonic time of the last successful catch-up
        # Time-boxed grants (expiry.py): held tenant -> rule -> its end (Unix seconds); a
        # heap of (end, tenant, rule), soonest first (an entry whose end changed since is
        # skipped); the rules withdrawn here at their end that no revision removed yet.
        self._ends: dict[str, dict] = {}
        self._expiring: list = []
        self._next_expiry = float("inf")
        self._withdrawn: dict[str, set] = {}
        self._sweep_due = False  # a grant ended here: the sweep should tidy the rules
        # What the follower read for the request thread to apply: ("entries", tenant,
        # [Change], key records or None) or ("snapshot", tenant, Snapshot).
        self._fetched: deque = deque()
        self._read_up_to: dict[str, int] = {}  # tenant -> newest revision queued there
        self.following = False  # a follower reads the database: requests never do
        self.on_news: Callable[[], None] = lambda: None  # wakes the follower

    # -- what is held ----------------------------------------------------------------------
    def revision(self, tenant: str) -> int:
        """The tenant's revision as held here (-1: not held)."""
        return self.decider.revision(tenant)

    @property
    def lag(self) -> int:
        """How many revisions, summed over held tenants, notifications announced that are
        not applied yet."""
        announced = {**self._read_up_to, **self._announced}
        return sum(max(0, r - self.decider.revision(t)) for t, r in announced.items())

    def held_bytes(self) -> int:
        """What the held tenants cost, as the budget counts it."""
        return self._bytes

    def held_tenants(self) -> int:
        return len(self._used)

    def _account(self, tenant: str) -> None:
        cost = TENANT_BYTES + RULE_BYTES * self.decider.size(tenant)
        self._bytes += cost - self._used.get(tenant, 0)
        self._used[tenant] = cost

    def hold(self, tenant: str, *, database: bool = True,
             keep: Iterable[str] = ()) -> bool:
        """Make sure the tenant is held (loading it when not); False when no such tenant
        exists. Without `database`, raise NeedsDatabase instead of loading. A tenant that
        cannot be loaded raises TenantUnavailable. `keep`: tenants the budget must not
        drop to make room (the others of one batch, answered together)."""
        if self._touch(tenant):
            if clock.now() >= self._next_expiry:
                self.expire_due()
            return True
        if not database:
            raise NeedsDatabase(tenant)
        try:
            with tracing.span("authz.tenant_load", {"authz.tenant": tenant}):
                snapshot = self._source.snapshot(tenant)
        except (SQLAlchemyError, ServiceError) as exc:
            DATABASE_ERRORS.labels("tenant_load").inc()
            raise TenantUnavailable(f"tenant {tenant} is not loaded on this worker and the "
                                    "policy database is unavailable: denied") from exc
        if not snapshot.exists:
            return False
        self._load(tenant, snapshot)
        self._fit(keep={tenant, *keep})
        return True

    def _load(self, tenant: str, snapshot: Snapshot) -> None:
        self.decider.load(tenant, snapshot.revision, snapshot.rules)
        self._read_up_to.pop(tenant, None)  # (what the follower read before: from here on)
        self._ends[tenant], self._withdrawn[tenant] = {}, set()
        self._set_ends(tenant, snapshot.expiries.items())
        for record in snapshot.keys:
            if record.secret_hash not in self._refused:
                self._keys[record.key_id] = record
        self._account(tenant)
        self._announced.pop(tenant, None)
        TENANT_LOADS.inc()

    def _touch(self, tenant: str) -> bool:
        """Whether the tenant is held; if so it becomes the most recently used."""
        if not self.decider.holds(tenant):
            return False
        if self._budget is not None:
            self._used.move_to_end(tenant)
        return True

    def _fit(self, keep: set[str]) -> None:
        """Drop least recently used tenants until the held ones fit the budget (never one
        of `keep`: for one batch the budget may be exceeded rather than a tenant
        answered as if it did not exist)."""
        if self._budget is None or self._bytes <= self._budget:
            return
        droppable = [t for t in self._used if t not in keep]
        for oldest in droppable:
            if self._bytes <= self._budget:
                break
            self.evict(oldest)

    def evict(self, tenant: str) -> None:
        self.decider.evict(tenant)
        self._ends.pop(tenant, None)
        self._withdrawn.pop(tenant, None)
        self._read_up_to.pop(tenant, None)
        self._bytes -= self._used.pop(tenant, 0)
        self._announced.pop(tenant, None)
        self._forget_keys(tenant)
        TENANT_EVICTIONS.inc()

    def _forget_keys(self, tenant: str) -> None:
        for key_id in [k for k, r in self._keys.items() if r.tenant == tenant]:
            del self._keys[key_id]
        self._verified = {}

    # -- catching up -----------------------------------------------------------------------
    # Called from the listener thread: appends and plain assignments only.
    def announce(self, tenant: str, revision: int) -> None:
        self._inbox.append((tenant, revision))
        self.on_news()

    def recheck(self) -> None:
        self._recheck = True
        self.on_news()

    def catch_up_due(self) -> bool:
        """Whether catch_up has anything to do now: apply what the follower read, withdraw
        a grant that ended, or (without a follower) look at the database."""
        if self._fetched or clock.now() >= self._next_expiry:
            return True
        if self.following:
            return False
        if self._changed is not None and self._changed():
            self._recheck = True  # kept until a catch-up reads what was committed
        now = time.monotonic()
        return now >= self._retry_at and (
            self._recheck or bool(self._inbox) or bool(self._announced)
            or now - self._checked_at >= self._sync_interval)

    def catch_up(self, force: bool = False) -> None:
        """Apply every committed change of the held tenants not yet applied, when one may
        exist. With a follower, a request (force False) only applies what it read."""
        self._take_fetched()
        if clock.now() >= self._next_expiry:
            self.expire_due()
        if not force and (self.following or not self.catch_up_due()):
            return
        now = time.monotonic()
        if not force and now < self._retry_at:  # the database failed a moment ago
            return
        poll = force or self._recheck or now - self._checked_at >= self._sync_interval
        self._checked_at = now
        self._recheck = False
        try:
            self._catch_up_tenants(poll)
            self.synced_at = now
        except (SQLAlchemyError, ServiceError):
            DATABASE_ERRORS.labels("catch_up").inc()
            self._recheck = True
            self._retry_at = now + RETRY_AFTER_FAILURE
            log.warning("policy catch-up failed; serving what is held", exc_info=True)

    def sweep(self) -> list[tuple[str, int]]:
        """Tidy the ended grants' rules (one revision per tenant) once one ended here: on
        the follower's or the sweeper's thread (runtime/background.py), never a check's.
        The (tenant, revision)s it wrote."""
        if not self._sweep_due:
            return []
        self._sweep_due = False  # first: a grant that ends meanwhile asks again
        try:
            written = self._sweep_ended()
        except BaseException:
            self._sweep_due = True
            raise
        if written and not self.following:
            self._recheck = True  # the next catch-up reads what the sweep wrote
        return written

    def _heard(self, tenant: str, revision: int) -> None:
        if revision > self.decider.revision(tenant) and self.decider.holds(tenant):
            self._announced[tenant] = max(revision, self._announced.get(tenant, -1))

    def _catch_up_tenants(self, poll: bool) -> None:
        inbox = self._inbox
        if inbox:
            self._unknown.clear()  # a key may have been created: look unknown ones up again
        while inbox:
            self._heard(*inbox.popleft())
        if poll:
            self._unknown.clear()
            for tenant, revision in self._source.heads(list(self._used)).items():
                self._heard(tenant, revision)
        for tenant in list(self._announced):
            self._catch_up_tenant(tenant)

    def _catch_up_tenant(self, tenant: str) -> None:
        held = self.decider.revision(tenant)
        entries = self._source.changes(tenant, held)
        if len(entries) > RELOAD_AFTER:
            self.evict(tenant)
            self.hold(tenant)
            return
        self._apply(tenant, entries, self._keys_after(tenant, entries))
        # Whatever was committed has been read; a revision announced beyond it (one a
        # request asked for that no write has made) is not waited for here.
        self._announced.pop(tenant, None)

    def _keys_after(self, tenant: str, entries: list[Change]) -> list | None:
        """The tenant's keys as now read, when one of `entries` changed them (else None)."""
        return self._source.working_keys(tenant) if any(e.keys_changed for e in entries) \
            else None

    def _apply(self, tenant: str, entries: list[Change], records) -> None:
        """Apply a held tenant's ledger entries in order (those already applied are
        skipped), with the ends they set and, if keys changed, its keys as now read. Traced
        as a catch-up linked to the writes it applies (runtime/tracing.py)."""
        if entries and tracing.enabled():
            with tracing.span("authz.catch_up", {
                    "authz.tenant": tenant, "authz.from": self.decider.revision(tenant),
                    "authz.to": entries[-1].revision},
                    links=tracing.links(e.trace for e in entries)):
                self._apply_entries(tenant, entries, records)
        else:
            self._apply_entries(tenant, entries, records)

    def _apply_entries(self, tenant: str, entries: list[Change], records) -> None:
        for entry in entries:
            self._applied(tenant, entry.revision, entry.added, entry.removed, entry.ends)
        if records is not None:
            self._forget_keys(tenant)
            for record in records:
                if record.secret_hash not in self._refused:
                    self._keys[record.key_id] = record
        if entries:
            self._account(tenant)

    def _applied(self, tenant: str, revision: int, added, removed, ends) -> None:
        if not self.decider.apply(revision, tenant, added, removed):
            return
        withdrawn = self._withdrawn.get(tenant)
        if withdrawn:
            withdrawn.difference_update(removed)
            back = withdrawn.intersection(added)  # in the index again: its end decides
            if back:
                withdrawn -= back
                held = self._ends[tenant]
                for rule in back:
                    if rule in held:
                        heapq.heappush(self._expiring, (held[rule], tenant, rule))
                self._soonest()
        self._set_ends(tenant, ends)

    # -- what the follower reads (its thread), applied by requests ---------------------------
    def follow(self) -> None:
        """Read what the held tenants committed since this worker applied it (on a
        notification, and every AUTHZ_SYNC_INTERVAL for the heads of all), and sweep ended
        grants: the follower thread's work, so that requests never wait on the database."""
        now = time.monotonic()
        poll = self._recheck or now - self._checked_at >= self._sync_interval
        try:
            heard: dict[str, int] = dict(self.sweep())
            inbox = self._inbox
            while inbox:
                tenant, revision = inbox.popleft()
                heard[tenant] = max(revision, heard.get(tenant, -1))
            if poll:
                self._recheck = False
                self._unknown.clear()
                heard.update(self._source.heads(list(self._used)))
                self._checked_at = now
            elif heard:
                self._unknown.clear()
            for tenant, revision in heard.items():
                if not self.decider.holds(tenant):
                    continue
                after = max(self.decider.revision(tenant), self._read_up_to.get(tenant, -1))
                if revision <= after:
                    continue
                entries = self._source.changes(tenant, after)
                if len(entries) > RELOAD_AFTER:
                    self._fetched.append(("snapshot", tenant, self._source.snapshot(tenant)))
                elif entries:
                    self._fetched.append(("entries", tenant, entries,
                                          self._keys_after(tenant, entries)))
                if entries:
                    self._read_up_to[tenant] = entries[-1].revision
            self.synced_at = now
        except (SQLAlchemyError, ServiceError):
            DATABASE_ERRORS.labels("catch_up").inc()
            self._recheck = True
            log.warning("policy follower failed to read; serving what is held",
                        exc_info=True)

    def _take_fetched(self) -> None:
        """Apply what the follower read (memory only)."""
        fetched = self._fetched
        while fetched:
            item = fetched.popleft()
            tenant = item[1]
            if not self.decider.holds(tenant):
                continue  # dropped meanwhile: loaded as it is then when needed again
            if item[0] == "snapshot":
                if item[2].revision > self.decider.revision(tenant):
                    self._forget_keys(tenant)
                    self._load(tenant, item[2])
                continue
            entries = item[2]
            if entries[0].revision > self.decider.revision(tenant) + 1:
                self._read_up_to.pop(tenant, None)  # a gap: read again from what is held
                self._recheck = True
                continue
            self._apply(tenant, entries, item[3])

    # -- time-boxed grants -----------------------------------------------------------------
    def _set_ends(self, tenant: str, ends) -> None:
        """Take a held tenant's ends as a revision set them: (rule CSV, end or None)."""
        held = self._ends.get(tenant)
        if held is None:
            return
        now = clock.now()
        withdrawn = self._withdrawn[tenant]
        for text, at in ends:
            rule = R.stored(text)
            if at is None:
                held.pop(rule, None)
                if rule in withdrawn:  # made permanent (a removal was applied before)
                    withdrawn.discard(rule)
                    self.decider.reinstate(tenant, rule)
                continue
            when = clock.unix_seconds(at)
            held[rule] = when
            if rule in withdrawn and when > now:  # given again with a later end
                withdrawn.discard(rule)
                self.decider.reinstate(tenant, rule)
            heapq.heappush(self._expiring, (when, tenant, rule))
        self._soonest()
        if now >= self._next_expiry:
            self.expire_due()

    def _soonest(self) -> None:
        self._next_expiry = self._expiring[0][0] if self._expiring else float("inf")

    def expire_due(self) -> None:
        """Withdraw from this worker's copy every held grant whose end has come (memory
        only: no database is asked, so it holds through an outage)."""
        now = clock.now()
        heap = self._expiring
        while heap and heap[0][0] <= now:
            when, tenant, rule = heapq.heappop(heap)
            held = self._ends.get(tenant)
            if held is None or held.get(rule) != when or rule in self._withdrawn[tenant]:
                continue  # dropped, or its end changed since
            self.decider.withdraw(tenant, rule)
            self._withdrawn[tenant].add(rule)
            if not self._sweep_due:
                self._sweep_due = True
                self.on_news()
        self._soonest()

    def committed(self, result: WriteResult) -> None:
        """After this worker's own commit: apply its diff straight away when nothing else
        came in between (the usual case), else catch up from the log. A tenant not held
        here is loaded, as it is then, when a request needs it."""
        change = result.change
        if change is None:
            return
        tenant = change.tenant
        if not self.decider.holds(tenant):
            return
        if change.keys_changed or self.decider.revision(tenant) != change.revision - 1:
            self._heard(tenant, change.revision)
            self.catch_up(force=True)
        else:
            self._applied(tenant, change.revision, change.added, change.removed, change.ends)
            self._account(tenant)

    def require(self, tenant: str, revision: int | None, wait: float) -> None:
        """Hold the tenant at `revision` or later before answering, or refuse after `wait`
        seconds."""
        if revision is None:
            return
        self.hold(tenant)
        if self.decider.revision(tenant) >= revision:
            return
        deadline = time.monotonic() + wait
        while True:
            self._heard(tenant, revision)
            self.catch_up(force=True)
            if self.decider.revision(tenant) >= revision:
                return
            try:
                newest = self._source.head(tenant)
            except ServiceError:
                newest = None
            if newest is not None and revision > newest:
                # No writer has committed it: waiting would only hold this worker up.
                raise StaleRevision(
                    f"revision {revision} of {tenant} does not exist (the newest is "
                    f"{newest})",
                    {"at_least_revision": [f"beyond the newest revision, {newest}"]})
            if time.monotonic() >= deadline:
                held = self.decider.revision(tenant)
                raise StaleRevision(
                    f"revision {revision} of {tenant} is not available here yet (this "
                    f"worker is at {held}); retry",
                    {"at_least_revision": [f"not yet available; at {held}"]},
                )
            _pause(0.05)

    def staleness(self) -> float | None:
        """Seconds since the last successful catch-up."""
        return None if self.synced_at is None else time.monotonic() - self.synced_at

    @staticmethod
    def settle() -> None:
        """After loading much: keep the cyclic garbage collector from walking millions of
        long-lived rule objects again on every full collection (p99 spikes)."""
        gc.collect()
        gc.freeze()

    # -- keys ------------------------------------------------------------------------------
    def authenticate(self, header: str | None, *, database: bool = True) -> keys.Caller:
        """The caller behind an `Authorization: Bearer <token>` header, or 401. A key not
        seen before is looked up by its id (and its tenant loaded); without `database`,
        that raises NeedsDatabase instead."""
        if not header or not header.startswith("Bearer "):
            raise Unauthorized("missing bearer token")
        token = header[7:].strip()
        digest = keys.digest(token)
        known = self._verified.get(digest)
        if known is not None and known[0].app is not None \
                and not self._app_key_fresh(known[0].key_id):
            del self._verified[digest]  # read it again: it may have been revoked
            self._keys.pop(known[0].key_id, None)
            known = None
        if known is None:
            known = self._verify(token, digest, database)
            if len(self._verified) < 10_000:
                self._verified[digest] = known
        caller, valid_until = known
        if valid_until is not None and time.time() >= valid_until:
            raise Unauthorized("this key has expired")  # the end of a rotation's overlap
        if caller.tenant is not None and not self.decider.holds(caller.tenant):
            self._verified.pop(digest, None)  # its tenant was dropped: verify again
            return self.authenticate(header, database=database)
        return caller

    def _app_key_fresh(self, key_id: str) -> bool:
        read = self._app_keys_read.get(key_id)
        return read is not None and time.monotonic() - read < APP_KEY_SECONDS

    def key_holder(self, key_id: str, digest: str) -> keys.Caller:
        """The tenant key `key_id` whose token hashes to `digest` (a console session keeps
        these, never the token), or 401: revoked, expired or unknown keys end sessions."""
        record = self._record(key_id, True)
        if record is None or record.app is not None \
                or not hmac.compare_digest(record.secret_hash, digest):
            raise Unauthorized("this key is no longer valid")
        if record.valid_until is not None and time.time() >= record.valid_until:
            raise Unauthorized("this key has expired")
        return keys.Caller(key_id, record.scope, record.tenant)

    def _record(self, key_id: str, database: bool) -> keys.KeyRecord | None:
        """The working key `key_id`, its tenant held; None if there is none."""
        record = self._keys.get(key_id)
        if record is not None:
            if self._touch(record.tenant) if record.app is None \
                    else self._app_key_fresh(key_id):
                return record
            del self._keys[key_id]
        seen = self._unknown.get(key_id)
        if seen is not None and time.monotonic() - seen < max(self._sync_interval, 0.5):
            return None
        if not database:
            raise NeedsDatabase(key_id)
        try:
            found = self._source.key(key_id)
        except (SQLAlchemyError, ServiceError) as exc:
            DATABASE_ERRORS.labels("key_lookup").inc()
            raise TenantUnavailable("this key's tenant is not loaded on this worker and the "
                                    "policy database is unavailable: denied") from exc
        if found is not None and found.app is not None \
                and found.secret_hash not in self._refused:
            if len(self._app_keys_read) >= UNKNOWN_KEYS:
                self._app_keys_read.clear()
            self._app_keys_read[key_id] = time.monotonic()
            self._keys[key_id] = found
            return found
        if found is None or found.secret_hash in self._refused \
                or not self.hold(found.tenant):
            if len(self._unknown) >= UNKNOWN_KEYS:
                self._unknown.clear()
            self._unknown[key_id] = time.monotonic()
            return None
        # The tenant held here: its keys as just loaded, or, held at a revision before the
        # one that made this key (not caught up yet), the key as just read: a key works on
        # every worker once it is committed.
        return self._keys.setdefault(key_id, found)

    def _verify(self, token: str, digest: str, database: bool
                ) -> tuple[keys.Caller, float | None]:
        key_id = keys.key_id_of(token)
        if key_id is None:
            raise Unauthorized("invalid token")
        if hmac.compare_digest(self._admin_digest, digest):
            return keys.Caller(key_id, keys.ADMIN, None), None
        record = self._record(key_id, database)
        if record is not None and hmac.compare_digest(record.secret_hash, digest):
            return keys.Caller(key_id, record.scope, record.tenant, record.app), \
                record.valid_until
        raise Unauthorized("invalid token")
