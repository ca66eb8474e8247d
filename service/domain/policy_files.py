"""Policy files for auditors and owners (R20): lint, import plans, diffs, decision changes.

Plain Python over rules; storage and HTTP call these. A file is Casbin CSV in the
grammar of rules.py, the same bytes the export writes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from . import amounts, catalogue, invariants
from . import rules as R
from . import subaccounts as S
from .accounts import Account
from .errors import Forbidden, InvalidInput
from .index import TenantIndex
from .rules import Kind, Parsed, Rule
from .tenant_policy import TenantPolicy, expiry_text


@dataclass(frozen=True)
class Finding:
    line: int | None
    severity: str  # "error" stops an import; "warning" does not
    code: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def apps_named(text: str) -> set[str]:
    """The apps a file says its tenant installed (`g2, app:<app>, <tenant>` lines): whose
    catalogues its other lines are read against."""
    out = set()
    for line in text.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 3 and fields[0] == "g2" and fields[1].startswith(R.APP_PREFIX):
            out.add(fields[1][len(R.APP_PREFIX):])
    return out


def read(text: str, source: str = "policy.csv", progress=None,
         known: catalogue.Catalogue = catalogue.BUILT_IN
         ) -> tuple[list[tuple[int, Parsed]], list[Finding]]:
    """Every line parsed strictly against the catalogue `known` (the built-in permissions
    and the file's apps'); the lines that fail are findings, not an exception.
    `progress`, if given, wraps the list of lines (a progress bar for big files)."""
    parsed, findings = [], []
    lines = text.splitlines()
    for number, line in enumerate(progress(lines) if progress else lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        try:
            parsed.append((number, R.parse(Rule(fields[0], tuple(fields[1:])),
                                           f"{source}:{number}", known)))
        except InvalidInput as exc:
            findings.append(Finding(number, "error", "invalid", exc.message))
    return parsed, findings


def lint(text: str, tenant: str | None = None, source: str = "policy.csv",
         progress=None, known: catalogue.Catalogue = catalogue.BUILT_IN) -> list[Finding]:
    """What an auditor should look at before this file is imported."""
    return _lint(*read(text, source, progress, known), tenant, known)


def _lint(parsed: list[tuple[int, Parsed]], findings: list[Finding], tenant: str | None,
          known: catalogue.Catalogue = catalogue.BUILT_IN) -> list[Finding]:
    tenant = tenant or (parsed[0][1].tenant if parsed else None)
    seen: dict[Rule, int] = {}
    mine: list[Parsed] = []
    for number, p in parsed:
        if p.tenant != tenant:
            findings.append(Finding(number, "error", "other-tenant",
                                    f"rule of tenant {p.tenant!r} in a file for {tenant!r}"))
            continue
        if p.rule in seen:
            findings.append(Finding(number, "warning", "duplicate",
                                    f"same rule as line {seen[p.rule]}"))
            continue
        seen[p.rule] = number
        mine.append(p)
        if p.kind is Kind.APP and p.rule.values[0][len(R.APP_PREFIX):] not in known.apps:
            findings.append(Finding(number, "error", "app-unknown",
                                    f"app {p.rule.values[0][len(R.APP_PREFIX):]!r} is not "
                                    "registered or has published no catalogue (R21)"))
        elif p.kind in (Kind.ROLE_PERMISSION, Kind.DIRECT) and p.rule.values[4] == "allow":
            perm = known.get(f"{p.rule.values[2]}:{amounts.split(p.rule.values[3])[0]}")
            if perm is not None and perm.deprecated:
                findings.append(Finding(number, "warning", "permission-deprecated",
                                        f"{perm.name} is deprecated by app {perm.app!r}: "
                                        "still decided, no longer grantable"))
    if tenant is not None:
        findings += [Finding(seen.get(v.rule) if v.rule else None, "error", v.code, v.message)
                     for v in invariants.rule_violations(tenant, mine, known)]
        findings += _unused_roles(mine, seen) + _idle_denies(tenant, mine, seen)
    return sorted(findings, key=lambda f: (f.line is None, f.line or 0, f.code))


def _unused_roles(mine: list[Parsed], seen: dict[Rule, int]) -> list[Finding]:
    held = {p.rule.values[1].split("@", 1)[0] for p in mine if p.kind is Kind.GRANT}
    first: dict[str, int] = {}
    for p in mine:
        if p.kind is Kind.ROLE_PERMISSION:
            first.setdefault(p.rule.values[0], seen[p.rule])
    return [Finding(line, "warning", "role-unused",
                    f"role {role.split(':', 2)[2]!r} is held by nobody")
            for role, line in sorted(first.items()) if role not in held]


def _idle_denies(tenant: str, mine: list[Parsed], seen: dict[Rule, int]) -> list[Finding]:
    """Denies no allow could reach: neither the caller, its departments or members,
    holds a role or direct grant of that permission (nor is the owner)."""
    members: dict[str, set[str]] = {}
    for p in mine:
        if p.kind is Kind.MEMBERSHIP:
            user, dept = p.rule.values
            members.setdefault(dept, set()).add(user)
            members.setdefault(user, set()).add(dept)
    roles: dict[str, set[tuple[str, str]]] = {}
    granted: dict[str, set[tuple[str, str]]] = {}
    for p in mine:
        v = p.rule.values
        if p.kind is Kind.ROLE_PERMISSION:  # (a limited one by its permission: R22)
            roles.setdefault(v[0], set()).add((v[2], amounts.split(v[3])[0]))
    for p in mine:
        v = p.rule.values
        if p.kind is Kind.GRANT:
            granted.setdefault(v[0], set()).update(roles.get(v[1].split("@", 1)[0], ()))
        elif p.kind is Kind.DIRECT and v[4] == "allow":
            granted.setdefault(v[0], set()).add((v[2], amounts.split(v[3])[0]))
    out = []
    for p in mine:
        v = p.rule.values
        if p.kind is not Kind.DIRECT or v[4] != "deny":
            continue
        related = {v[0]} | members.get(v[0], set())
        for user in list(related):
            related |= members.get(user, set())
        if not any((v[2], v[3]) in granted.get(who, ()) for who in related):
            out.append(Finding(seen[p.rule], "warning", "deny-shadows-nothing",
                               f"nothing grants {v[2]}:{v[3]} to {v[0]} or its groups"))
    return out


def read_for_import(text: str, tenant: str, source: str = "import.csv", progress=None,
                    known: catalogue.Catalogue = catalogue.BUILT_IN) -> set[Rule]:
    """The rules of a file to import into `tenant`, or InvalidInput naming every error."""
    parsed, findings = read(text, source, progress, known)
    errors = [f for f in _lint(parsed, findings, tenant, known) if f.severity == "error"]
    if errors:
        raise InvalidInput(f"{len(errors)} error(s) in {source}; nothing was imported",
                           {"csv": [f"line {f.line}: {f.message}" if f.line else f.message
                                    for f in errors[:100]]})
    return {p.rule for _, p in parsed}


def net_difference(entries: Iterable[tuple[Iterable[Rule], Iterable[Rule]]]
                   ) -> tuple[set[Rule], set[Rule]]:
    """(added, removed) overall, from consecutive exact (added, removed) differences."""
    added: set[Rule] = set()
    removed: set[Rule] = set()
    for step_added, step_removed in entries:
        for rule in step_removed:
            if rule in added:
                added.discard(rule)
            else:
                removed.add(rule)
        for rule in step_added:
            if rule in removed:
                removed.discard(rule)
            else:
                added.add(rule)
    return added, removed


# Decisions a plan may evaluate (two per question: before and after): about a second of
# work. A file that reaches more answers with what it evaluated and `complete: false`.
PLAN_BUDGET = 200_000


def decision_changes(tenant: str, before: set[Rule], after: set[Rule],
                     limit: int = 1000, budget: int = PLAN_BUDGET,
                     known: catalogue.Catalogue = catalogue.BUILT_IN
                     ) -> tuple[int, list[dict], bool]:
    """(how many, the first `limit`, whether every question was asked) decisions that
    differ between two policies of a tenant: every sub-account the change can reach, in
    every store, for every catalogue permission, with and without a second factor, and in
    a store run by product for every product named in either policy. `known`: the
    catalogue (with the apps either policy installs)."""
    changed = before ^ after
    if not changed:
        return 0, [], True
    old, new = TenantIndex(tenant, before), TenantIndex(tenant, after)
    subjects = _reached(tenant, changed, before | after)
    stores = sorted({r.values[0] for r in before | after
                     if r.ptype == "g2" and not r.values[0].startswith(R.APP_PREFIX)})
    products: dict[str, set[str]] = {}
    for r in before | after:
        if r.ptype == "g" and "~product/" in r.values[1]:
            store, _, product = r.values[1].partition("~product/")
            products.setdefault(store, set()).add(product)
    # R22: a permission that moves money is asked at every limit either policy names (and
    # without an amount), so a limit raised or lowered shows as the decisions it changes.
    limits = sorted({amounts.split(r.values[3])[1] for r in before | after
                     if r.ptype == "p" and amounts.LIMITED in r.values[3]})
    questions = itertools.chain(
        ((u, s, p, mfa, "", amount) for u, s, p, mfa in itertools.product(
            sorted(subjects), stores, known.permissions, (False, True))
         for amount in ([""] + limits if p.amount else [""])),
        ((u, s, p, mfa, item, "") for s in stores for item in sorted(products.get(s, ()))
         for u, p, mfa in itertools.product(
             sorted(subjects), known.per_product(),
             (False, True))))
    total, items, asked = 0, [], 0
    for user, store, perm, mfa, product, amount in questions:
        if asked >= budget:
            return total, items, False
        asked += 1
        was = old.decide(user, store, perm.area, perm.action, mfa, product, amount)
        now = new.decide(user, store, perm.area, perm.action, mfa, product, amount)
        if was != now:
            total += 1
            if len(items) < limit:
                items.append({"subject": user.split(":", 2)[2], "store": store.split("/", 1)[1],
                              "permission": perm.name, "second_factor": mfa,
                              **({"product": product} if product else {}),
                              **({"amount": amounts.shown(amount)} if amount else {}),
                              "before": was, "after": now})
    return total, items, True


def _reached(tenant: str, changed: set[Rule], rules: set[Rule]) -> set[str]:
    """Users whose decisions a change to `changed` can alter."""
    users = {v for r in rules for v in r.values if v.startswith(f"user:{tenant}:")
             and "~" not in v}
    if any(R.classify(r) not in (Kind.ASSIGNMENT, Kind.MEMBERSHIP, Kind.GRANT, Kind.DIRECT,
                                 Kind.DISABLED, Kind.ROLE_PERMISSION) for r in changed):
        return users  # stores, owner, step-up, by-product: anyone
    touched = {r.values[0] for r in changed}
    roles = {r.values[0] for r in changed if R.classify(r) is Kind.ROLE_PERMISSION}
    for r in rules:
        if r.ptype == "g" and r.values[1].split("@", 1)[0] in roles:
            touched.add(r.values[0])  # holders of a changed role
    for r in rules:
        if r.ptype == "g" and r.values[1] in touched:
            touched.add(r.values[0])  # members of a touched department
    return {u for u in users if u in touched}


# -- what the CSV does not hold ---------------------------------------------------------------
def directory_document(policy: TenantPolicy) -> dict:
    """Everything of a tenant that is not a Casbin rule, for the export beside the CSV:
    sub-account profiles, department names, settings, and the expiry of time-boxed grants.
    With the CSV it restores the tenant; the CSV alone stays what stock pycasbin loads."""
    d = policy.directory
    return {"accounts": {login: {"display_name": a.display_name, "email": a.email,
                                 "phone": a.phone, "note": a.note,
                                 "default_store": a.default_store}
                         for login, a in sorted(d.accounts.items())},
            "departments": dict(sorted(d.departments.items())),
            "settings": {"language": d.settings.language,
                         "max_sub_accounts": d.settings.max_sub_accounts},
            "expiries": dict(sorted(d.expiries.items()))}


def restore_directory(policy: TenantPolicy, document: dict, *, may_set_cap: bool) -> None:
    """Make the directory the document's (directory_document's shape, checked at the edge):
    profiles, department names, language, expiries. Only the platform admin may change the
    cap (R11): for anyone else it must be the tenant's own."""
    d = policy.directory
    for login, profile in document.get("accounts", {}).items():
        R.login(login, f"directory.accounts.{login}")
        account = d.accounts.setdefault(login, Account(login))
        for field in ("display_name", "email", "phone", "note", "default_store"):
            if field in profile:
                setattr(account, field, profile[field])
    for department, name in document.get("departments", {}).items():
        R.identifier(department, f"directory.departments.{department}")
        d.departments[department] = name
    settings = document.get("settings", {})
    if "language" in settings:
        S.set_language(policy, settings["language"])
    cap = settings.get("max_sub_accounts", d.settings.max_sub_accounts)
    if cap != d.settings.max_sub_accounts:
        if not may_set_cap:
            raise Forbidden("only the platform admin changes the sub-account cap (R11)",
                            {"directory.settings.max_sub_accounts": ["admin only"]})
        S.set_max_sub_accounts(policy, cap)
    if "expiries" in document:
        wanted: dict[str, str] = {}
        for text, moment in document["expiries"].items():
            field = "directory.expiries"
            try:
                rule = R.read_csv(text, field, policy.catalogue)[0].rule
            except (InvalidInput, IndexError):
                raise InvalidInput(f"{text!r} is not a rule", {field: [text]}) from None
            kind = R.classify(rule)
            if rule not in policy or not (kind is Kind.GRANT or (
                    kind is Kind.DIRECT and rule.values[4] == "allow")):
                raise InvalidInput(f"{text!r} is not a grant of this file",
                                   {field: [f"not a grant of the file: {text}"]})
            wanted[rule.csv()] = expiry_text(moment)
        d.expiries.clear()
        d.expiries.update(wanted)
