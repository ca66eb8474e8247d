"""The ledger (R18) for its readers: a tenant's page of changes, and the platform's chain
verified (recomputed only when the ledger has grown: verifying reads every entry)."""

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
    """Recompute the whole hash chain: the first broken entry, if any."""
    return ledger.verify()


class _Chain:
    def __init__(self):
        self._lock = threading.Lock()
        self._at: int | None = None
        self._result: ledger.Verification | None = None

    def status(self) -> ledger.Verification:
        head = policy_store.head()[0]
        with self._lock:
            if self._at != head or self._result is None:
                self._result, self._at = ledger.verify(), head
            return self._result


_CHAIN = _Chain()


@operation(rights.READ)
def chain_status(caller: Caller, tenant: str) -> ledger.Verification:
    """Whether the ledger's chain verifies, for a tenant's auditor (the console's badge:
    it says only intact or where it breaks, nothing of other tenants' entries)."""
    return _CHAIN.status()
