"""Allow/deny decisions: one compiled index per tenant held, fed only from committed changes.

Tenants never share a rule (the grammar in rules.py ties every value to one tenant), so
deciding inside one tenant's rules gives exactly the answer of one pycasbin enforcer over
all of them, and a write rebuilds only its own tenant's index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import NamedTuple

from . import reasons as W
from . import rules as R
from .explain import Explanation, explain
from .index import TenantIndex
from .rules import Rule

log = logging.getLogger(__name__)

SECOND_FACTOR_PASSED = "passed"


class CheckRequest(NamedTuple):
    """A decision request in the seller's vocabulary; identifiers already validated."""

    tenant: str
    subject: str
    store: str
    area: str
    action: str
    second_factor: bool = False
    product: str = ""  # set when the check is about one product (object "product/<id>")
    amount: str = ""  # the amount the action moves, at the model's width (domain/amounts)
    approval: str = ""  # the id of the approved request the check uses (R24)

    def casbin_values(self) -> tuple[str, str, str, str, str, str, str, str]:
        return (
            R.user(self.tenant, self.subject),
            R.store(self.tenant, self.store),
            self.area,
            self.action,
            SECOND_FACTOR_PASSED if self.second_factor else "",
            self.product,
            self.amount,
            R.approval(self.tenant, self.approval) if self.approval else "",
        )


def answer_on(index: TenantIndex | None, request: tuple) -> str:
    """The decision on one index (TenantIndex.answer: the model's, an app not installed
    denied first) as a reason code, for a request of a CheckRequest's nine fields, named
    in the seller's vocabulary; UNKNOWN_TENANT without an index."""
    tenant, subject, store, area, action, second_factor, product, amount, approval = request
    if index is None:
        return W.UNKNOWN_TENANT
    return index.answer(R.user(tenant, subject), R.store(tenant, store), area, action,
                        second_factor, product, amount,
                        R.approval(tenant, approval) if approval else "")


class Decider:
    """The tenants this worker holds, each a compiled TenantIndex at its own revision."""

    def __init__(self):
        self._indexes: dict[str, TenantIndex] = {}
        self._revisions: dict[str, int] = {}
        self._sizes: dict[str, int] = {}  # rules held per tenant (the memory budget's unit)

    def revision(self, tenant: str) -> int:
        """The tenant's revision as held here (-1: not held)."""
        return self._revisions.get(tenant, -1)

    def holds(self, tenant: str) -> bool:
        return tenant in self._revisions

    def index_at(self, tenant: str, revision: int) -> TenantIndex | None:
        """The tenant's index when it is held at exactly `revision`, else None."""
        return self._indexes.get(tenant) if self._revisions.get(tenant) == revision else None

    def size(self, tenant: str) -> int:
        return self._sizes.get(tenant, 0)

    def load(self, tenant: str, revision: int,
             rules: Iterable[tuple[str, tuple[str, ...]]]) -> None:
        """Hold the tenant as of a snapshot of its rules, (ptype, values) pairs (replacing
        what was held)."""
        index = TenantIndex(tenant)
        count = 0
        add = index.add_values
        for ptype, values in rules:
            add(ptype, values)
            count += 1
        self._indexes[tenant] = index
        self._sizes[tenant] = count
        self._revisions[tenant] = revision

    def evict(self, tenant: str) -> None:
        self._indexes.pop(tenant, None)
        self._sizes.pop(tenant, None)
        self._revisions.pop(tenant, None)

    def apply(self, revision: int, tenant: str, added: Iterable[Rule],
              removed: Iterable[Rule]) -> bool:
        """Apply one committed log entry of a tenant held here (others are not held: the
        entry is theirs to read when they are loaded); False when it was not applied (not
        held, or applied already). A rule already present, or already gone, is skipped.
        Only that tenant's index changes, rule by rule."""
        index = self._indexes.get(tenant)
        if index is None or revision <= self._revisions[tenant]:
            return False
        removed, added = tuple(removed), tuple(added)
        for rule in removed:
            index.remove(rule)
        for rule in added:
            index.add(rule)
        self._sizes[tenant] += len(added) - len(removed)
        self._revisions[tenant] = revision
        return True

    def withdraw(self, tenant: str, rule: Rule) -> None:
        """Stop counting a time-boxed grant at its end, before any revision removes it: no
        revision changes; the committed removal, when it comes, is a no-op."""
        index = self._indexes.get(tenant)
        if index is not None:
            index.remove(rule)

    def reinstate(self, tenant: str, rule: Rule) -> None:
        """Count a withdrawn grant again: a revision gave it a later end, or none."""
        index = self._indexes.get(tenant)
        if index is not None:
            index.add(rule)

    def answer_many(self, requests: Iterable[tuple]) -> list[str]:
        """The decisions, in order, as reason codes (domain/reasons.py; allowed: GRANTED),
        for requests of a CheckRequest's nine fields (a single check is a batch of one):
        the one way in to a decision. A failure while deciding denies (ERROR) only the
        request it happened on."""
        indexes = self._indexes
        answers = []
        append = answers.append
        for request in requests:
            try:
                append(answer_on(indexes.get(request[0]), request))
            except Exception:
                log.exception("decision failed; denying")
                append(W.ERROR)
        return answers

    def requires(self, tenant: str, area: str, action: str, code: str) -> str | None:
        """What would allow an answer (reasons.requires), with the tenant's approval
        settings."""
        if code not in W.MAY_REQUIRE:
            return None
        index = self._indexes.get(tenant)
        return W.requires(code, index is not None and index.approvable(area, action))

    def apps(self, tenant: str) -> set[str]:
        """The apps the tenant (held here) installed."""
        index = self._indexes.get(tenant)
        return set(index.apps) if index is not None else set()

    def permissions_of(self, tenant: str, subject: str, store: str, second_factor: bool,
                       everything) -> list[tuple[str, str]]:
        """The (area, action)s `subject` is allowed in `store`, sorted: each candidate a
        rule could allow, decided as /check would. `everything()`: the tenant's whole
        catalogue as (area, action)s, asked only for a subject holding the owner's rule."""
        index = self._indexes.get(tenant)
        if index is None:
            return []
        user, domain = R.user(tenant, subject), R.store(tenant, store)
        candidates = index.reachable(user)
        if candidates is None:
            candidates = set(everything())
        return sorted(p for p in candidates
                      if index.decide(user, domain, p[0], p[1], second_factor, ""))

    def limits_of(self, tenant: str, subject: str, store: str, second_factor: bool,
                  allowed) -> dict[tuple[str, str], str]:
        """The permissions `subject` holds in `store` only up to a limit (those of the
        tenant's limited grants not `allowed` whatever the amount), with the highest such
        limit (fixed width): what an amount decides."""
        index = self._indexes.get(tenant)
        if index is None or not index.limits:
            return {}
        user, domain = R.user(tenant, subject), R.store(tenant, store)
        out = {}
        for area, action in sorted(set(index.limits) - set(allowed)):
            for limit in sorted(index.limits.get((area, action), ()), reverse=True):
                if index.decide(user, domain, area, action, second_factor, "", limit):
                    out[(area, action)] = limit
                    break
        return out

    def explain(self, request: CheckRequest) -> Explanation:
        """Why `decide(request)` answers what it does (its `allowed` is that answer, its
        `reason` the same code)."""
        return explain(self._indexes.get(request.tenant), *request)

    def stores(self, tenant: str) -> list[str]:
        """The tenant's store ids, sorted."""
        index = self._indexes.get(tenant)
        return sorted(s.split("/", 1)[1] for s in index.stores) if index else []

    def assigned(self, tenant: str, store: str) -> list[str]:
        """Logins assigned to a store, the owner included: the only subjects the model can
        allow anything there (an allow needs g(user, store)), so who-can stays complete."""
        index = self._indexes.get(tenant)
        domain = R.store(tenant, store)
        prefix = R.user(tenant, "")
        return sorted(user[len(prefix):] for user, where in index.assignments()
                      if where == domain and user.startswith(prefix)) if index else []

    def rules(self, tenant: str) -> set[Rule]:
        """The tenant's rules as held in memory (for consistency checks)."""
        index = self._indexes.get(tenant)
        return index.rules() if index is not None else set()
