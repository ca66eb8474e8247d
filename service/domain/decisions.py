"""Allow/deny decisions: one pycasbin enforcer per tenant, fed only from committed changes.

Tenants never share a rule (the grammar in rules.py ties every value to one tenant), so
deciding inside one tenant's rules gives exactly the answer of one enforcer over all of
them, and a write touches only its own tenant's enforcer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import casbin

from . import rules as R
from .rules import Rule

log = logging.getLogger(__name__)

SECOND_FACTOR_PASSED = "passed"


@dataclass(frozen=True)
class CheckRequest:
    """A decision request in the seller's vocabulary; identifiers already validated."""

    tenant: str
    subject: str
    store: str
    area: str
    action: str
    second_factor: bool = False
    product: str = ""  # set when the check is about one product (object "product/<id>")

    def casbin_values(self) -> tuple[str, str, str, str, str, str]:
        return (
            R.user(self.tenant, self.subject),
            R.store(self.tenant, self.store),
            self.area,
            self.action,
            SECOND_FACTOR_PASSED if self.second_factor else "",
            self.product,
        )


class Decider:
    """In-memory policy of every tenant at a known revision."""

    def __init__(self, model_text: str):
        self.model_text = model_text
        self.revision = -1
        self._enforcers: dict[str, casbin.Enforcer] = {}

    def _new_enforcer(self) -> casbin.Enforcer:
        return casbin.Enforcer(casbin.Enforcer.new_model(text=self.model_text))

    def load(self, revision: int, rules_by_tenant: dict[str, list[Rule]]) -> None:
        """Replace everything with a full snapshot."""
        enforcers = {}
        for tenant, tenant_rules in rules_by_tenant.items():
            enforcer = self._new_enforcer()
            self._add(enforcer, tenant_rules)
            enforcers[tenant] = enforcer
        self._enforcers = enforcers
        self.revision = revision

    def apply(self, revision: int, tenant: str, added: Iterable[Rule],
              removed: Iterable[Rule]) -> None:
        """Apply one committed log entry; a rule already present, or already gone, is skipped."""
        if revision <= self.revision:
            return
        enforcer = self._enforcers.get(tenant)
        if enforcer is None:
            enforcer = self._enforcers[tenant] = self._new_enforcer()
        for rule in removed:
            if rule.ptype == "p":
                enforcer.remove_named_policy(rule.ptype, *rule.values)
            else:
                enforcer.remove_named_grouping_policy(rule.ptype, *rule.values)
        self._add(enforcer, added)
        self.revision = revision

    @staticmethod
    def _add(enforcer: casbin.Enforcer, rules: Iterable[Rule]) -> None:
        for rule in rules:
            if rule.ptype == "p":
                enforcer.add_named_policy(rule.ptype, *rule.values)
            else:
                enforcer.add_named_grouping_policy(rule.ptype, *rule.values)

    def decide(self, request: CheckRequest) -> bool:
        """True only when the policy allows; any failure while deciding is a deny."""
        enforcer = self._enforcers.get(request.tenant)
        if enforcer is None:
            return False
        try:
            return bool(enforcer.enforce(*request.casbin_values()))
        except Exception:
            log.exception("decision failed; denying")
            return False

    def rules(self, tenant: str) -> set[Rule]:
        """The tenant's rules as held in memory (for consistency checks and export)."""
        enforcer = self._enforcers.get(tenant)
        if enforcer is None:
            return set()
        out = set()
        for sec in ("p", "g"):
            for ptype, assertion in enforcer.model.model.get(sec, {}).items():
                out.update(Rule(ptype, tuple(v)) for v in assertion.policy)
        return out

    def tenants(self) -> list[str]:
        return sorted(self._enforcers)
