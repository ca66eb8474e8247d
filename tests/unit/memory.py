"""The service's use cases over the in-memory store (storage/memory_store.py), seeded with
policies/seed.csv: what the unit tests of the rules, the use cases and the unit of work
drive, with no database and no HTTP. Decisions go through the service's own path
(Authz.answer: the worker's replica, loading the tenant on demand from the store and
applying what is committed since)."""

from __future__ import annotations

from pathlib import Path

from service import config
from service.domain import amounts
from service.domain.decider import CheckRequest, Decider
from service.domain.keys import ADMIN, AUDIT, CHECK, OWNER, Caller
from service.runtime.background import Background
from service.runtime.decision_log import DecisionLog
from service.runtime.rate_limit import WriteLimiter
from service.runtime.replica import Replica
from service.startup import seeding
from service.storage.memory_store import MemoryTenantStore
from service.usecases import approvals, expiry
from service.usecases.authz import Authz
from service.usecases.unit_of_work import HeldWrites

SEED = Path(__file__).resolve().parents[2] / "policies" / "seed.csv"


def admin() -> Caller:
    return Caller("admin", ADMIN, None)


def owner(tenant: str = "acme") -> Caller:
    return Caller(f"{tenant}-owner", OWNER, tenant)


def auditor(tenant: str = "acme") -> Caller:
    return Caller(f"{tenant}-audit", AUDIT, tenant)


def checker(tenant: str = "acme") -> Caller:
    return Caller(f"{tenant}-check", CHECK, tenant)


class Memory:
    """One worker's service over one in-memory store. `other()`: a second worker over the
    same store (its own held writes), as two processes share one database."""

    def __init__(self, store: MemoryTenantStore | None = None, *, seed: bool = True):
        # (the decision log is written to the database: not here)
        settings = config.resolve({"AUTHZ_WRITE_RATE_LIMIT": "100000/second",
                                   "AUTHZ_DECISION_LOG": False}, environ={})
        self.store = store if store is not None else MemoryTenantStore()
        store = self.store
        replica = Replica(Decider(), settings.admin_key, settings.sync_interval,
                          sweep=lambda: expiry.sweep_written(store), source=store)
        self.service = Authz(settings, replica, WriteLimiter(settings.write_rate_limit),
                             DecisionLog(None, settings), Background(None, replica, settings),
                             self.store, HeldWrites(verify=True))
        if seed:
            seeding.load_seed(SEED.read_text(), "seed.csv", dev_keys=True, store=self.store)

    def other(self) -> Memory:
        return Memory(self.store, seed=False)

    def answer(self, tenant: str, subject: str, store: str, permission: str, *,
               second_factor: bool = False, product: str = "", amount: str = "",
               approval: str = "") -> str:
        """The reason code this worker answers (domain/reasons.py), caught up with what
        any worker committed."""
        self.service.replica.catch_up(force=True)
        area, action = permission.rsplit(":", 1)
        request = CheckRequest(tenant, subject, store, area, action, second_factor, product,
                               amounts.parse(amount) if amount else "", approval)
        if approval:  # a use of an approval is a write (usecases/approvals.use)
            return approvals.use(self.service, checker(tenant), request)[0]
        return self.service.answer((request,))[0]

    def allows(self, tenant: str, subject: str, store: str, permission: str, **kw) -> bool:
        return self.answer(tenant, subject, store, permission, **kw) == "granted"
