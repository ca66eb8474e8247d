"""The ledger (R18) for its readers: a tenant's page of changes, its chain verified
(again only when it has grown), and every chain verified for the platform admin."""

from __future__ import annotations

import threading

from ..domain.keys import Caller
from ..storage import ledger, policy_store
from . import rights
from .authz import Authz
from .rights import operation


@operation(rights.READ)
def page(service: Authz, caller: Caller, tenant: str, query: dict) -> tuple[int, list[dict]]:
    """(matching entries, one page of them, newest first) of the tenant's changes."""
    service.require_tenant(tenant)
    return ledger.query(tenant, store=query.get("store"), subject=query.get("subject"),
                        actor=query.get("actor"), since=query.get("since"),
                        until=query.get("until"), page=query["page"],
                        per_page=query["per_page"])


@operation(rights.VERIFY_LEDGER)
def verify(caller: Caller) -> ledger.Verification:
    """Recompute every hash chain: the first broken entry of each, if any."""
    return ledger.verify()


class _Chains:
    """A tenant's chain verified again only when the tenant's head has moved."""

    def __init__(self):
        self._lock = threading.Lock()
        self._results: dict[str, tuple[int, ledger.Verification]] = {}

    def status(self, tenant: str) -> ledger.Verification:
        head = policy_store.head(tenant)
        with self._lock:
            known = self._results.get(tenant)
            if known is not None and known[0] == head:
                return known[1]
        result = ledger.verify(tenant)
        with self._lock:
            if len(self._results) >= 1000:
                self._results.clear()
            self._results[tenant] = (head, result)
        return result


_CHAINS = _Chains()


@operation(rights.READ)
def chain_status(caller: Caller, tenant: str) -> ledger.Verification:
    """Whether the tenant's chain verifies, for its auditor (the console's badge)."""
    return _CHAINS.status(tenant)
