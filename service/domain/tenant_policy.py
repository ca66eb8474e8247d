"""A tenant's rules as a working set: what domain operations read and edit before a commit."""

from __future__ import annotations

from collections.abc import Iterable

from . import rules as R
from .errors import InvalidInput
from .rules import Kind, Parsed, Rule


class TenantPolicy:
    """The rules of one tenant plus the exact difference an operation made to them.

    Domain operations call `add`/`remove`; storage writes `added`/`removed` and nothing
    else, so what is committed, logged and applied to memory is one and the same diff.
    """

    def __init__(self, tenant: str, rules: Iterable[Rule] = ()):
        self.tenant = tenant
        self._parsed: dict[Rule, Parsed] = {}
        for rule in rules:
            self._parsed[rule] = R.parse(rule)
        self.added: set[Rule] = set()
        self.removed: set[Rule] = set()

    def __contains__(self, rule: Rule) -> bool:
        return rule in self._parsed

    def __len__(self) -> int:
        return len(self._parsed)

    def rules(self) -> list[Rule]:
        return sorted(self._parsed)

    def of_kind(self, *kinds: Kind) -> list[Parsed]:
        return [p for p in self._parsed.values() if p.kind in kinds]

    def add(self, rule: Rule) -> bool:
        """Add a rule (validated against the grammar and this tenant); False if present."""
        parsed = R.parse(rule)
        if parsed.tenant != self.tenant:
            raise InvalidInput(f"rule {rule.csv()!r} belongs to tenant {parsed.tenant!r}")
        if rule in self._parsed:
            return False
        self._parsed[rule] = parsed
        if rule in self.removed:
            self.removed.discard(rule)
        else:
            self.added.add(rule)
        return True

    def remove(self, rule: Rule) -> bool:
        """Remove a rule; False if it was not there."""
        if self._parsed.pop(rule, None) is None:
            return False
        if rule in self.added:
            self.added.discard(rule)
        else:
            self.removed.add(rule)
        return True

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    # Views used by the domain operations.
    def stores(self) -> set[str]:
        """Store ids (without the tenant prefix)."""
        return {p.rule.values[0].split("/", 1)[1] for p in self.of_kind(Kind.STORE)}

    def roles(self) -> dict[str, set[str]]:
        """Role template name -> permission names."""
        out: dict[str, set[str]] = {}
        for p in self.of_kind(Kind.ROLE_PERMISSION):
            sub, _, area, action, _ = p.rule.values
            out.setdefault(sub.split(":", 2)[2], set()).add(f"{area}:{action}")
        return out
