"""A tenant's rules as a working set: what domain operations read and edit before a commit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from . import amounts
from . import rules as R
from .accounts import Directory
from .catalogue import BUILT_IN, Catalogue
from .errors import Conflict, InvalidInput
from .keys import KeyRing
from .rules import Kind, Parsed, Rule


def expiry_text(when: datetime) -> str:
    """How an expiry is kept: ISO 8601 in UTC to the microsecond, so text order is time
    order and the ledger shows the instant unambiguously."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Change:
    """One committed revision of a tenant, as a worker applies it: the write's own answer
    carries one (domain/revisions.WriteResult), and each ledger entry read back
    (policy_store.tenant_changes) is one."""

    revision: int
    tenant: str
    added: tuple[Rule, ...]
    removed: tuple[Rule, ...]
    keys_changed: bool = False
    # the time-boxed grants whose end this revision set or cleared: (rule CSV, end or None)
    ends: tuple[tuple[str, str | None], ...] = ()
    trace: str = ""  # the writing request's W3C traceparent, when it was traced


def once_key(p: Parsed) -> tuple | None:
    """What a role or grantee may hold once (R22): who, where, which permission, whatever
    its limit; None for a rule that is not such a holding."""
    v = p.rule.values
    if p.kind in (Kind.ROLE_PERMISSION, Kind.DIRECT) and v[4] == "allow":
        return (v[0], v[1], v[2], amounts.split(v[3])[0])
    return None


class CommittedRules:
    """A tenant's rules as committed, parsed once and filed by kind: the base a write's
    TenantPolicy stages its changes over without copying it. A worker keeps it across
    writes (usecases/unit_of_work.HeldWrites) and moves it to the next revision with
    `apply`, so a write costs what it changes, not the tenant's size."""

    def __init__(self, tenant: str, rules: Iterable[Rule] = ()):
        self.tenant = tenant
        # Rules given here were validated when they were written; new ones are parsed in
        # TenantPolicy.add. In the order given (storage gives them oldest first).
        self.parsed: dict[Rule, Parsed] = {}
        self.by_kind: dict[Kind, dict[Rule, Parsed]] = {kind: {} for kind in Kind}
        for rule in rules:
            parsed = Parsed(R.classify(rule), tenant, rule)
            self.parsed[rule] = parsed
            self.by_kind[parsed.kind][rule] = parsed
        # what each role or grantee holds once (invariants.once_key -> its rules): filed on
        # the first write that asks
        self._once: dict[tuple, set[Rule]] | None = None

    def apply(self, added: Iterable[Parsed], removed: Iterable[Rule]) -> None:
        """Move to the next revision: its exact set difference."""
        for rule in removed:
            parsed = self.parsed.pop(rule, None)
            if parsed is not None:
                del self.by_kind[parsed.kind][rule]
                self._file_once(parsed, add=False)
        for parsed in added:
            self.parsed[parsed.rule] = parsed
            self.by_kind[parsed.kind][parsed.rule] = parsed
            self._file_once(parsed, add=True)

    def once_held(self, key: tuple, removed) -> bool:
        """Whether a committed rule not in `removed` holds `key` (invariants.once_key)."""
        if self._once is None:
            self._once = {}
            for kind in (Kind.ROLE_PERMISSION, Kind.DIRECT):
                for parsed in self.by_kind[kind].values():
                    self._file_once(parsed, add=True)
        return any(rule not in removed for rule in self._once.get(key, ()))

    def _file_once(self, parsed: Parsed, add: bool) -> None:
        if self._once is None:
            return
        key = once_key(parsed)
        if key is None:
            return
        if add:
            self._once.setdefault(key, set()).add(parsed.rule)
        else:
            held = self._once.get(key)
            if held is not None:
                held.discard(parsed.rule)
                if not held:
                    del self._once[key]


class TenantPolicy:
    """A write's unit of work for one tenant: its rules plus the exact difference an
    operation made to them, its directory (sub-account profiles, departments, settings),
    its keys, whether the tenant row is to be created, and its catalogue (the built-in
    permissions and those of the apps it installed: what its rules may name).

    Domain operations call `add`/`remove` and edit the directory and keys; storage writes
    what was staged here and nothing else, so what is committed, logged and applied to
    memory is one and the same diff. An edit has no way to commit, roll back or open a
    transaction: it only stages. The committed rules (`base`) are never changed here:
    added and removed rules are kept beside them. Rules keep the order they were given in
    (storage gives them oldest first), which is what "the earliest assigned store" means.
    """

    def __init__(self, tenant: str, rules: Iterable[Rule] = (),
                 directory: Directory | None = None, keys: KeyRing | None = None,
                 exists: bool = True, revision: int = 0, catalogue: Catalogue = BUILT_IN,
                 base: CommittedRules | None = None):
        self.tenant = tenant
        self.catalogue = catalogue
        self.loaded_catalogue = catalogue  # an edit that installs or upgrades an app moves
        self.revision = revision  # the tenant's committed revision the rules were read at
        self.directory = directory if directory is not None else Directory()
        self.keys = keys if keys is not None else KeyRing(tenant)
        self.exists = exists
        self.created_name: str | None = None  # set by create(): the tenant row to insert
        self.base = base if base is not None else CommittedRules(tenant, rules)
        # dicts as ordered sets: rules are stored in the order they were added
        self.added: dict[Rule, Parsed] = {}
        self.removed: dict[Rule, None] = {}

    def create(self, name: str) -> None:
        """Stage the tenant row itself (a new tenant)."""
        if self.exists or self.created_name is not None:
            raise Conflict(f"tenant {self.tenant!r} exists", {"tenant": ["already exists"]})
        self.created_name = name

    def __contains__(self, rule: Rule) -> bool:
        return rule in self.added or (rule in self.base.parsed and rule not in self.removed)

    def __len__(self) -> int:
        return len(self.base.parsed) - len(self.removed) + len(self.added)

    def _all(self) -> Iterable[Parsed]:
        removed = self.removed
        for rule, parsed in self.base.parsed.items():
            if rule not in removed:
                yield parsed
        yield from self.added.values()

    def rules(self) -> list[Rule]:
        return sorted(p.rule for p in self._all())

    def original_rules(self) -> list[Rule]:
        """The rules as they were before this unit of work's changes."""
        return list(self.base.parsed)

    def of_kind(self, *kinds: Kind) -> list[Parsed]:
        if len(kinds) == 1:  # the usual question: from the kind's own file
            kind = kinds[0]
            removed = self.removed
            found = [p for r, p in self.base.by_kind[kind].items() if r not in removed]
            return found + [p for p in self.added.values() if p.kind is kind]
        return [p for p in self._all() if p.kind in kinds]

    def add(self, rule: Rule) -> bool:
        """Add a rule (validated against the grammar and this tenant); False if present."""
        parsed = R.parse(rule, known=self.catalogue)
        if parsed.tenant != self.tenant:
            raise InvalidInput(f"rule {rule.csv()!r} belongs to tenant {parsed.tenant!r}")
        if rule in self:
            return False
        if rule in self.removed:
            del self.removed[rule]
        else:
            self.added[rule] = parsed
        return True

    def remove(self, rule: Rule) -> bool:
        """Remove a rule (and its expiry); False if it was not there."""
        if rule in self.added:
            del self.added[rule]
        elif rule in self.base.parsed and rule not in self.removed:
            self.removed[rule] = None
        else:
            return False
        self.directory.expiries.pop(rule.csv(), None)
        return True

    def set_expiry(self, rule: Rule, expires_at: datetime | None) -> None:
        """A grant that stops counting at `expires_at` (None: a permanent grant)."""
        if expires_at is None:
            self.directory.expiries.pop(rule.csv(), None)
            return
        if rule not in self:
            raise ValueError(f"no rule {rule.csv()!r} to expire")
        self.directory.expiries[rule.csv()] = expiry_text(expires_at)

    def end_expired(self, now: str) -> list[Rule]:
        """Remove the time-boxed grants whose end (expiry_text) is at or before `now`: a
        write starts from what is in force, so an ended grant never counts for a right it
        checks, and granting it again adds it again. Returns what was removed."""
        due = sorted(text for text, at in self.directory.expiries.items() if at <= now)
        ended = [R.stored(text) for text in due]
        for rule in ended:
            self.remove(rule)
        return ended

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    # Views used by the domain operations.
    def stores(self) -> set[str]:
        """Store ids (without the tenant prefix)."""
        return {p.rule.values[0].split("/", 1)[1] for p in self.of_kind(Kind.STORE)}

    def roles(self) -> dict[str, set[str]]:
        """Role template name -> permission names (a limited one by its name alone)."""
        return {role: set(held) for role, held in self.role_rules().items()}

    def role_rules(self) -> dict[str, dict[str, Rule]]:
        """Role template name -> permission name -> the rule that holds it."""
        out: dict[str, dict[str, Rule]] = {}
        for p in self.of_kind(Kind.ROLE_PERMISSION):
            sub, _, area, act, _ = p.rule.values
            out.setdefault(sub.split(":", 2)[2], {})[f"{area}:{amounts.split(act)[0]}"] = p.rule
        return out

    def role_limits(self) -> dict[str, dict[str, str]]:
        """Role template name -> permission name -> its limit (R22), for limited ones."""
        out: dict[str, dict[str, str]] = {}
        for role, held in self.role_rules().items():
            for name, rule in held.items():
                limit = amounts.split(rule.values[3])[1]
                if limit:
                    out.setdefault(role, {})[name] = limit
        return out
