"""The service's operations, between the HTTP layer and the domain: who may do what, and
how a change is committed and then seen by this worker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from ..config import Settings
from ..domain import invariants, keys
from ..domain import reasons as W
from ..domain import rules as R
from ..domain.catalogue import Catalogue
from ..domain.decider import CheckRequest, Decider
from ..domain.errors import Forbidden, InvalidInput, NotFound, ServiceError, Unavailable
from ..domain.index import TenantIndex
from ..domain.revisions import TenantStore
from ..domain.tenant_policy import TenantPolicy
from ..runtime import tracing
from ..runtime.background import Background
from ..runtime.decision_log import DecisionLog
from ..runtime.rate_limit import WriteLimiter
from ..runtime.replica import Replica
from ..runtime.telemetry import DATABASE_ERRORS, WRITES
from ..storage import apps_store, console_sessions, failures, policy_store
from . import rights, unit_of_work
from .rights import operation

log = logging.getLogger(__name__)
T = TypeVar("T")


class Authz:
    """The service object. Its parts (the replica, the write limiter, the decision log's
    writer, the worker's threads) are built by create_app and handed in."""

    def __init__(self, settings: Settings, replica: Replica, limiter: WriteLimiter,
                 decision_log: DecisionLog, background: Background, store: TenantStore,
                 held_writes: unit_of_work.HeldWrites | None = None,
                 request_id: Callable[[], str] = str):
        self.settings = settings
        self.replica = replica
        self.limiter = limiter
        self.decision_log = decision_log
        self.background = background
        self.store = store  # the tenants' revisions (domain/revisions.TenantStore)
        self.held_writes = held_writes  # the tenants this worker wrote, at their revision
        self._request_id = request_id  # the HTTP request's, for the ledger ("" outside one)

    @property
    def decider(self) -> Decider:
        return self.replica.decider

    # -- who may act: usecases/rights.py ------------------------------------------------
    @staticmethod
    def check_tenant(caller: keys.Caller, tenant: str | None) -> str:
        """The tenant a decision is asked for: the key's own, or any for the admin. On the
        /check hot path: the same rule as rights.DECIDE, without the decorator's cost."""
        if caller.scope == keys.ADMIN or caller.scope == keys.APP:
            if tenant is None:
                raise InvalidInput(f"the {caller.scope} key must name the tenant",
                                   {"tenant": ["required"]})
            return tenant
        rights.authorize(caller, rights.DECIDE, tenant if tenant is not None else caller.tenant)
        return caller.tenant  # type: ignore[return-value]

    @staticmethod
    def check_areas(caller: keys.Caller, requests) -> None:
        """An app key asks only about its own permissions (R21), in any tenant: one that
        has not installed the app is denied them (Decider). Others: any area."""
        if caller.scope != keys.APP:
            return
        prefix = f"{caller.app}."
        for asked in requests:
            if not asked[3].startswith(prefix):
                raise Forbidden("an app key asks only about its own app's permissions",
                                {"object": [f"must start with {prefix}"]})

    # -- reads -----------------------------------------------------------------------------
    @operation(rights.READ)
    def read(self, caller: keys.Caller, tenant: str) -> TenantPolicy:
        """The tenant's committed policy and directory."""
        self.require_tenant(tenant)
        return self.store.read(tenant)

    def tenant_language(self, tenant: str) -> str:
        """The tenant's console language, for pages shown before anyone signs in."""
        return policy_store.tenant_language(tenant)

    @staticmethod
    def ping() -> None:
        """Raise when the database does not answer."""
        policy_store.ping()

    # -- console sessions (kept on the server: signing out ends them everywhere) -------------
    @staticmethod
    def start_session(key_id: str, hours: float) -> str:
        return console_sessions.start(key_id, hours)

    @staticmethod
    def session_key(token: str) -> str | None:
        return console_sessions.key_of(token)

    @staticmethod
    def end_session(token: str) -> None:
        console_sessions.end(token)

    @staticmethod
    def recover() -> None:
        """After a database error outside a write: end the failed transaction."""
        failures.recover()

    # -- writes ----------------------------------------------------------------------------
    @operation(rights.WRITE)
    def write(self, caller: keys.Caller, tenant: str, reason: str | None,
              edit: Callable[[TenantPolicy], T], *, must_exist: bool = True,
              limited: bool = True, use_case: str | None = None) -> tuple[int, T]:
        """Commit `edit` as one revision, then apply it here before answering. `limited`:
        counted against the caller's write rate limit (not the tenant writes one app
        catalogue version makes: the publish was counted)."""
        return self.commit(caller, tenant, reason, edit, must_exist=must_exist,
                           limited=limited, use_case=use_case)

    def commit(self, caller: keys.Caller, tenant: str, reason: str | None,
               edit: Callable[[TenantPolicy], T], *, must_exist: bool = True,
               limited: bool = True, use_case: str | None = None) -> tuple[int, T]:
        """write() for an operation that checked the caller's right itself (a named use
        case, a storefront filing or deciding an approval, R24). Logged with the caller as
        its actor and `use_case` (its row in the rights table) in the entry's details."""
        try:
            R.identifier(tenant, "tenant")  # (a name no tenant can have is a 422, not a query)
            if limited:
                self.limiter.hit(caller.key_id)
            result = unit_of_work.write(self.store, tenant, caller.describe(), reason or "",
                                        edit, must_exist=must_exist,
                                        request_id=self._request_id(),
                                        held=self.held_writes, use_case=use_case)
        except ServiceError as exc:
            WRITES.labels(exc.code).inc()
            if isinstance(exc, Unavailable):
                DATABASE_ERRORS.labels("write").inc()
            raise
        WRITES.labels("committed" if result.changed else "unchanged").inc()
        self.replica.committed(result)
        return result.revision, result.value  # type: ignore[return-value]

    @operation(rights.PREVIEW)
    def preview(self, caller: keys.Caller, tenant: str,
                edit: Callable[[TenantPolicy], T], *, limited: bool = True) -> tuple[int, T]:
        """What `edit` would report, run on a fresh copy of the committed policy and held
        to the invariants every write is: nothing is written (the previews of batch
        assignment and store revocation, import dry runs). Limited like writes: a preview
        can cost as much work as one."""
        if limited:
            self.limiter.hit(caller.key_id)
        self.require_tenant(tenant)
        policy = self.store.read(tenant)
        loaded = policy.directory.copy()
        value = edit(policy)
        invariants.require(policy, loaded)
        return policy.revision, value

    def require_tenant(self, tenant: str) -> None:
        R.identifier(tenant, "tenant")
        if not self.store.exists(tenant):
            raise NotFound(f"no such tenant {tenant!r}", {"tenant": ["not found"]})

    # -- decisions -------------------------------------------------------------------------
    def answer(self, requests: Sequence[tuple], *, database: bool = True,
               tenants: set[str] | None = None) -> list[str]:
        """The service's one way to a decision: each request's (a CheckRequest's fields)
        as a reason code (domain/reasons.py; allowed: GRANTED), each tenant at one
        revision, queued for the decision log (R19) when it is one to keep. A single
        check is a batch of one. Each tenant is loaded first if this worker does not hold
        it (without `database`: replica.NeedsDatabase); one that does not exist answers
        UNKNOWN_TENANT, one that cannot be loaded is TenantUnavailable. `tenants`: the
        requests' tenants, if the caller has them."""
        if tracing.enabled():
            return self._traced(requests, database, tenants)
        return self._decide(requests, database, tenants)

    def _decide(self, requests: Sequence[tuple], database: bool,
                tenants: set[str] | None) -> list[str]:
        replica = self.replica
        tenants = tenants if tenants is not None else {r[0] for r in requests}
        for tenant in tenants:
            replica.hold(tenant, database=database, keep=tenants)
        answers = self.decider.answer_many(requests)
        self.decision_log.record_many(requests, answers, replica.revision)
        return answers

    def _traced(self, requests: Sequence[tuple], database: bool,
                tenants: set[str] | None) -> list[str]:
        """answer() in a span: a single check's names its decision, a batch's its count."""
        if len(requests) != 1:
            with tracing.span("authz.check_batch", {"authz.checks": len(requests)}) as span:
                answers = self._decide(requests, database, tenants)
                span.set_attribute("authz.allowed", answers.count(W.GRANTED))
                return answers
        tenant = requests[0][0]
        with tracing.span("authz.check", {"authz.tenant": tenant}) as span:
            answers = self._decide(requests, database, tenants)
            span.set_attributes({"authz.decision": answers[0] == W.GRANTED,
                                 "authz.reason": answers[0],
                                 "authz.revision": self.replica.revision(tenant)})
            return answers

    def catalogue(self, tenant: str) -> Catalogue:
        """The tenant's catalogue: built-in permissions and its installed apps' (the
        tenant held here, each app at the version the tenant is at)."""
        self.replica.hold(tenant)
        return apps_store.tenant_catalogue(tenant, self.decider.apps(tenant))

    @operation(rights.EXPLAIN)
    def explain(self, caller: keys.Caller, tenant: str, request: CheckRequest) -> dict:
        """The decision and the rules behind it: a read of the policy, so not an app's (an
        app asks only for decisions)."""
        decider = self.held(tenant)
        answer = decider.explain(request).as_dict()
        answer["requires"] = decider.requires(tenant, request.area, request.action,
                                              answer["reason"])
        return answer

    def index_of(self, policy: TenantPolicy) -> TenantIndex | None:
        """Inside a write: this worker's index of the tenant when it holds exactly the
        write's rules (the revision the write started from, nothing staged yet, no grant
        ended since), so that a decision there builds no index of its own; else None."""
        if policy.added or policy.removed:
            return None
        return self.decider.index_at(policy.tenant, policy.revision)

    def held(self, tenant: str) -> Decider:
        """The decider, with the tenant held (loaded if need be), for reads of its
        in-memory policy (explain, who-can, the matrix)."""
        self.replica.hold(tenant)
        return self.decider

