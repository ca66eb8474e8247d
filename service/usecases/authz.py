"""The service's operations, between the HTTP layer and the domain: who may do what, and
how a change is committed and then seen by this worker."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

from flask import has_request_context, request

from ..domain import invariants, keys
from ..domain.decider import CheckRequest, Decider
from ..domain.errors import Forbidden, InvalidInput, NotFound, ServiceError, Unavailable
from ..domain.tenant_policy import TenantPolicy
from ..runtime.decision_log import DecisionLog
from ..runtime.rate_limit import WriteLimiter
from ..runtime.replica import Replica
from ..runtime.telemetry import DATABASE_ERRORS, WRITES
from ..startup.config import DEV_TOKENS, Settings
from ..storage import policy_store
from ..storage.models import Tenant, db
from ..storage.notifier import Listener

log = logging.getLogger(__name__)
T = TypeVar("T")


class Authz:
    def __init__(self, settings: Settings, decision_log: DecisionLog):
        self.settings = settings
        self.decision_log = decision_log
        refused = frozenset(map(keys.digest, DEV_TOKENS)) \
            if settings.production else frozenset()
        self.replica = Replica(Decider(), settings.admin_key,
                               settings.sync_interval, refused)
        self.limiter = WriteLimiter(settings.write_rate_limit,
                                    settings.rate_limit_redis_url)
        self._listener: Listener | None = None
        self._listener_pid: int | None = None

    def ensure_listening(self) -> None:
        """Start this process's notification listener (PostgreSQL only), once per process.

        Started on the first request rather than at import so that a forked gunicorn
        worker gets a thread of its own."""
        url = self.settings.database_url
        if (self._listener_pid == os.getpid() or not self.settings.listen
                or not url.startswith("postgresql")):
            return
        self._listener = Listener(url, self.replica.announce, self.replica.recheck)
        self._listener_pid = os.getpid()
        self._listener.start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
            self._listener_pid = None

    @property
    def listening(self) -> bool:
        return self._listener is not None and self._listener.connected

    @property
    def decider(self) -> Decider:
        return self.replica.decider

    # -- who may act -----------------------------------------------------------------------
    @staticmethod
    def require_owner(caller: keys.Caller, tenant: str) -> None:
        """Owner keys act on their own tenant only; the admin on every tenant."""
        if caller.scope == keys.ADMIN:
            return
        if caller.scope != keys.OWNER or caller.tenant != tenant:
            raise Forbidden("this key may not change this tenant")

    @staticmethod
    def require_reader(caller: keys.Caller, tenant: str) -> None:
        """Owner and audit keys read their own tenant only; the admin every tenant."""
        if caller.scope == keys.ADMIN:
            return
        if caller.scope not in keys.READERS or caller.tenant != tenant:
            raise Forbidden("this key may not read this tenant")

    @staticmethod
    def require_admin(caller: keys.Caller) -> None:
        if caller.scope != keys.ADMIN:
            raise Forbidden("only the platform admin key may do this")

    @staticmethod
    def check_tenant(caller: keys.Caller, tenant: str | None) -> str:
        """The tenant a decision is asked for: the key's own, or any for the admin."""
        if caller.scope == keys.ADMIN:
            if tenant is None:
                raise InvalidInput("the admin key must name the tenant", {"tenant": ["required"]})
            return tenant
        if tenant is not None and tenant != caller.tenant:
            raise Forbidden("this key may not ask for another tenant")
        return caller.tenant  # type: ignore[return-value]

    # -- writes ----------------------------------------------------------------------------
    def write(self, caller: keys.Caller, tenant: str, reason: str | None,
              edit: Callable[[TenantPolicy], T], *, must_exist: bool = True
              ) -> tuple[int, T]:
        """Commit `edit` as one revision, then apply it here before answering."""
        try:
            self.limiter.hit(caller.key_id)
            result = policy_store.write(tenant, caller.describe(), reason or "", edit,
                                        must_exist=must_exist, request_id=_request_id())
        except ServiceError as exc:
            WRITES.labels(exc.code).inc()
            if isinstance(exc, Unavailable):
                DATABASE_ERRORS.labels("write").inc()
            raise
        WRITES.labels("committed" if result.changed else "unchanged").inc()
        self.replica.committed(result)
        return result.revision, result.value  # type: ignore[return-value]

    def preview(self, caller: keys.Caller, tenant: str,
                edit: Callable[[TenantPolicy], T]) -> tuple[int, T]:
        """What `edit` would report, run on a fresh copy of the committed policy and held
        to the invariants every write is: nothing is written (the previews of batch
        assignment and store revocation, import dry runs). Limited like writes: a preview
        can cost as much work as one."""
        self.require_owner(caller, tenant)
        self.limiter.hit(caller.key_id)
        self.require_tenant(tenant)
        policy = policy_store.read(tenant)
        loaded = policy.directory.copy()
        value = edit(policy)
        invariants.require(policy, loaded)
        return self.replica.revision, value

    def require_tenant(self, tenant: str) -> None:
        if db.session.get(Tenant, tenant) is None:
            db.session.rollback()
            raise NotFound(f"no such tenant {tenant!r}", {"tenant": ["not found"]})

    # -- decisions -------------------------------------------------------------------------
    def decide(self, request: CheckRequest) -> bool:
        """The decision, queued for the decision log (R19) when it is one to keep."""
        allowed = self.decider.decide_values(*request)
        self.decision_log.record(request, allowed, self.decider.revision)
        return allowed

    def decide_many(self, requests: list[tuple]) -> list[bool]:
        """decide() for each request (a CheckRequest's fields), all at one revision."""
        decider = self.decider
        revision = decider.revision
        answers = decider.decide_many(requests)
        self.decision_log.record_many(requests, answers, revision)
        return answers


def _request_id() -> str:
    """The HTTP request's id (telemetry.RequestLog accepted or made it), for the ledger."""
    return request.environ.get("HTTP_X_REQUEST_ID", "") if has_request_context() else ""
