"""What every state of a tenant's policy holds, however it was reached: the API, an import,
the console, the CLI, the seed or an expiry sweep. One set of checks, run by the unit of
work on every write before it commits (usecases/unit_of_work.write) and by lint on a file, so an
import is accepted exactly when the API could have produced the same rules.

A state the API refuses to produce is refused here too:
  - the owner's rule, and the owner in every store and operating every product of a store
    run by product (R3);
  - every store a rule names is declared (g2), and none is called `all` (reserved by the
    API for "every store"); a supplementary grant names one store, not the tenant (R7);
  - a store runs by product with all its by-product rules or none (R17); step-up covers
    every high-risk permission or none (R10);
  - every role granted is defined (R6), every sub-account and department a rule names
    exists in the directory (R4, R5), and every default store is an assigned one (R15);
  - a write never takes the number of sub-accounts past the tenant's cap (R11);
  - an app's permissions appear only in a tenant that installed the app, and only as the
    catalogue version the tenant is at names them; the owner holds each installed app's
    permissions by a rule of its own (R3, R21); step-up covers the apps' high-risk
    permissions too;
  - a role or grantee holds a permission once, with a limit or without (R22); a
    permission has one approval mode; an approved request's grant and the rule naming
    whose it is come together, for an existing sub-account (R24).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import amounts, catalogue
from . import rules as R
from .accounts import Directory
from .errors import InvalidInput, LimitReached
from .rules import Kind, Parsed, Rule
from .tenant_policy import TenantPolicy, once_key

RESERVED_STORE = "all"  # the API's word for every store of the tenant


@dataclass(frozen=True)
class Violation:
    code: str
    message: str
    rule: Rule | None = None  # the rule at fault, when one is (lint names its line)


def rule_violations(tenant: str, parsed: Iterable[Parsed],
                    known: catalogue.Catalogue = catalogue.BUILT_IN) -> list[Violation]:
    """What is wrong with a set of one tenant's rules on their own (no directory), with
    `known` the tenant's catalogue (its installed apps')."""
    parsed = list(parsed)
    rules = {p.rule for p in parsed}
    owner = R.owner(tenant)
    out: list[Violation] = []
    if Rule("p", (owner, tenant, R.ANY, R.ANY, "allow")) not in rules:
        out.append(Violation("owner-missing", "the owner's rule is missing (R3)"))
    stores = {p.rule.values[0] for p in parsed if p.kind is Kind.STORE}
    roles = {p.rule.values[0] for p in parsed if p.kind is Kind.ROLE_PERMISSION}
    step_up: set[tuple[str, str]] = set()
    by_product: dict[str, int] = {}
    apps = {p.rule.values[0][len(R.APP_PREFIX):] for p in parsed if p.kind is Kind.APP}
    for app in sorted(apps):
        if R.owner_app(tenant, app) not in rules:
            out.append(Violation("owner-missing", f"the owner's rule for app {app!r} is "
                                 "missing (R3, R21)"))
    for p in parsed:
        v = p.rule.values
        kind = p.kind
        if kind is Kind.STORE:
            if v[0].split("/", 1)[1] == RESERVED_STORE:
                out.append(Violation("store-reserved",
                                     f"{RESERVED_STORE!r} is reserved and cannot be a store",
                                     p.rule))
            if Rule("g", (owner, v[0])) not in rules:
                out.append(Violation("owner-missing",
                                     f"the owner is not in store {v[0]} (R3)", p.rule))
        elif kind is Kind.STEP_UP:
            step_up.add((v[2], v[3]))
        elif kind is Kind.BY_PRODUCT:
            by_product[v[1]] = by_product.get(v[1], 0) + 1
        out += _rule_checks(p, tenant, stores, roles, apps, known)
    if step_up and step_up != {(p.area, p.action) for p in known.high_risk()}:
        out.append(Violation("step-up-partial",
                             "step-up covers every high-risk permission or none (R10)"))
    for store, count in sorted(by_product.items()):
        if count != len(known.per_product()) \
                or Rule("g", (owner, R.all_products(store))) not in rules:
            out.append(Violation("by-product-partial",
                                 f"{store} runs by product with all of its by-product rules "
                                 "and the owner operating every product, or none (R3, R17)"))
    out += _once(parsed)
    for p in parsed:
        if p.kind is Kind.ALL_PRODUCTS and p.rule.values[1].partition("~")[0] not in by_product:
            out.append(Violation("by-product-partial",
                                 f"{p.rule.values[1]} is named but the store does not run "
                                 "by product (R17)", p.rule))
    return out


def _rule_checks(p: Parsed, tenant: str, stores: set[str], roles: set[str], apps: set[str],
                 known: catalogue.Catalogue) -> list[Violation]:
    """What is wrong with one rule, given the tenant's stores, roles, apps and catalogue."""
    out = []
    v = p.rule.values
    kind = p.kind
    if p.rule.ptype == "p" and "." in v[2]:
        app = catalogue.app_of(v[2])
        if app not in apps:
            out.append(Violation("app-not-installed",
                                 f"a rule of app {app!r}, which this tenant has not "
                                 "installed (R21)", p.rule))
        elif kind is not Kind.OWNER_APP \
                and known.get(f"{v[2]}:{amounts.split(v[3])[0]}") is None:
            out.append(Violation("permission-unknown",
                                 f"{v[2]}:{v[3]} is not in app {app!r}'s catalogue (R21)",
                                 p.rule))
    store = _store_named(kind, v, tenant)
    if store is not None and store not in stores:
        out.append(Violation("store-undeclared",
                             f"{store} is not a store of this tenant (no g2 rule)", p.rule))
    if kind is Kind.DIRECT and v[1] == tenant and v[4] == "allow":
        out.append(Violation("grant-every-store",
                             "a supplementary grant names one store, not all (R7)", p.rule))
    if kind is Kind.GRANT and v[1].partition("@")[0] not in roles:
        out.append(Violation("role-undefined",
                             f"role {v[1].partition('@')[0].split(':', 2)[2]!r} is "
                             "granted but not defined (R6)", p.rule))
    return out


def _twice(rule: Rule, key: tuple) -> Violation:
    return Violation("limit-twice", f"{key[2]}:{key[3]} is held twice by {key[0]} in "
                     f"{key[1]}, with and without a limit or with two (R22)", rule)


def _unpaired(rule: Rule) -> Violation:
    return Violation("approval-unpaired", f"{rule.values[0]} needs both its grant and the "
                     "rule naming whose it is (R24)", rule)


def _once(parsed: list[Parsed]) -> list[Violation]:
    """R22, R24: what may be held only once, and what comes in pairs."""
    out = []
    held: dict[tuple, Rule] = {}
    modes: dict[tuple, Rule] = {}
    grants = {p.rule.values[0] for p in parsed if p.kind is Kind.APPROVAL}
    owners = {p.rule.values[0] for p in parsed if p.kind is Kind.APPROVAL_SUBJECT}
    for p in parsed:
        v = p.rule.values
        key = once_key(p)
        if key is not None:
            if key in held:
                out.append(_twice(p.rule, key))
            held[key] = p.rule
        elif p.kind in (Kind.APPROVAL_ALWAYS, Kind.APPROVAL_OVER_LIMIT):
            if (v[2], v[3]) in modes:
                out.append(Violation("approval-mode", f"{v[2]}:{v[3]} has two approval "
                                     "modes (R24)", p.rule))
            modes[(v[2], v[3])] = p.rule
        elif p.kind is Kind.APPROVAL and v[0] not in owners \
                or p.kind is Kind.APPROVAL_SUBJECT and v[0] not in grants:
            out.append(_unpaired(p.rule))
    return out


def _store_named(kind: Kind, v: tuple[str, ...], tenant: str) -> str | None:
    """The store a rule names (None: none, or the whole tenant)."""
    if kind is Kind.ASSIGNMENT or kind is Kind.BY_PRODUCT:
        return v[1]
    if kind is Kind.APPROVAL:
        return v[1].partition("~")[0]
    if kind is Kind.GRANT:
        scope = v[1].partition("@")[2]
        return None if scope == tenant else scope
    if kind is Kind.DIRECT:
        return None if v[1] == tenant else v[1]
    if kind is Kind.PRODUCT_OPERATOR or kind is Kind.ALL_PRODUCTS:
        return v[1].partition("~")[0]
    return None


def directory_violations(policy: TenantPolicy) -> list[Violation]:
    """What is wrong between the rules and the directory (sub-accounts, departments)."""
    out = []
    accounts = policy.directory.accounts
    departments = policy.directory.departments
    assigned: dict[str, set[str]] = {}
    for p in policy.of_kind(*NAMING):
        out += _named_checks(p, accounts, departments)
        if p.kind is Kind.ASSIGNMENT:
            assigned.setdefault(p.rule.values[0].split(":", 2)[2], set()).add(
                p.rule.values[1].split("/", 1)[1])
    for p in policy.of_kind(Kind.APPROVAL_SUBJECT):
        out += _named_checks(p, accounts, departments)
    for login, account in sorted(accounts.items()):
        out += _default_store_checks(login, account.default_store, assigned.get(login, ()))
    return out


# The kinds of rule that name a sub-account or a department as their subject.
NAMING = (Kind.ASSIGNMENT, Kind.MEMBERSHIP, Kind.GRANT, Kind.DIRECT, Kind.DISABLED,
          Kind.PRODUCT_OPERATOR)


def _named_checks(p: Parsed, accounts, departments) -> list[Violation]:
    """A rule that names a sub-account or a department that the directory lacks."""
    out = []
    if p.kind is Kind.APPROVAL_SUBJECT:
        name = p.rule.values[1].split(":", 2)[2]
        if name not in accounts:
            out.append(Violation("account-missing", f"no sub-account {name!r}", p.rule))
        return out
    if p.kind not in NAMING:
        return out
    kind, _, name = p.rule.values[0].split(":", 2)
    if kind == "user" and name != R.OWNER_LOGIN and name not in accounts:
        out.append(Violation("account-missing", f"no sub-account {name!r}", p.rule))
    elif kind == "dept" and name not in departments:
        out.append(Violation("department-missing", f"no department {name!r}", p.rule))
    if p.kind is Kind.MEMBERSHIP:
        dept = p.rule.values[1].split(":", 2)[2]
        if dept not in departments:
            out.append(Violation("department-missing", f"no department {dept!r}", p.rule))
    return out


def _default_store_checks(login: str, default: str | None, assigned) -> list[Violation]:
    if default is not None and default not in assigned:
        return [Violation("default-store", f"{login}'s default store {default!r} is not one "
                          "of its stores (R15)")]
    return []


def violations(policy: TenantPolicy) -> list[Violation]:
    return (rule_violations(policy.tenant, policy.of_kind(*Kind), policy.catalogue)
            + directory_violations(policy))


# The kinds of rule whose checks look only at the rule itself, the directory and the
# tenant's small sets (stores, roles, apps): a write that adds or removes only these is
# checked where it reaches (new_violations). Any other kind, a catalogue that changed, a
# sub-account or department gone: the whole check.
LOCAL = frozenset({*NAMING, Kind.APPROVAL, Kind.APPROVAL_SUBJECT})


def new_violations(policy: TenantPolicy, before: Directory) -> list[Violation] | None:
    """The violations a write adds, found from what it changed: exactly the ones the whole
    check finds and did not find before the write (tests/unit/test_invariants_delta.py).
    None when the write reaches beyond what this can see."""
    if policy.catalogue is not policy.loaded_catalogue or policy.created_name is not None:
        return None
    removed = [policy.base.parsed[rule] for rule in policy.removed]
    if any(p.kind not in LOCAL for p in policy.added.values()) \
            or any(p.kind not in LOCAL for p in removed):
        return None
    accounts, departments = policy.directory.accounts, policy.directory.departments
    if before.accounts.keys() - accounts.keys() \
            or before.departments.keys() - departments.keys():
        return None
    tenant = policy.tenant
    out: list[Violation] = []
    if policy.added:
        stores = {p.rule.values[0] for p in policy.of_kind(Kind.STORE)}
        roles = {p.rule.values[0] for p in policy.of_kind(Kind.ROLE_PERMISSION)}
        apps = {p.rule.values[0][len(R.APP_PREFIX):] for p in policy.of_kind(Kind.APP)}
        earlier: set[tuple] = set()
        for p in policy.added.values():
            out += _rule_checks(p, tenant, stores, roles, apps, policy.catalogue)
            out += _named_checks(p, accounts, departments)
            key = once_key(p)
            if key is not None:
                if key in earlier or policy.base.once_held(key, policy.removed):
                    out.append(_twice(p.rule, key))
                earlier.add(key)
    out += _approval_pairs(policy, removed)
    out += _owner_in_stores(policy, removed)
    touched = {login for login, account in accounts.items()
               if (old := before.accounts.get(login)) is None
               or old.default_store != account.default_store}
    touched |= {p.rule.values[0].split(":", 2)[2] for p in removed
                if p.kind is Kind.ASSIGNMENT and p.rule.values[0].startswith("user:")}
    touched = {login for login in touched
               if login in accounts and accounts[login].default_store is not None}
    if touched:
        assigned: dict[str, set[str]] = {}
        for p in policy.of_kind(Kind.ASSIGNMENT):
            login = p.rule.values[0].split(":", 2)[2]
            if login in touched:
                assigned.setdefault(login, set()).add(p.rule.values[1].split("/", 1)[1])
        for login in sorted(touched):
            out += _default_store_checks(login, accounts[login].default_store,
                                         assigned.get(login, ()))
    return out


def _approval_pairs(policy: TenantPolicy, removed: list[Parsed]) -> list[Violation]:
    """R24: an approval's grant and the rule naming whose it is, where the write touched
    either."""
    kinds = (Kind.APPROVAL, Kind.APPROVAL_SUBJECT)
    if not any(p.kind in kinds for p in policy.added.values()) \
            and not any(p.kind in kinds for p in removed):
        return []
    grants: dict[str, list[Rule]] = {}
    owners: dict[str, list[Rule]] = {}
    for kind, filed in ((Kind.APPROVAL, grants), (Kind.APPROVAL_SUBJECT, owners)):
        for p in policy.of_kind(kind):
            filed.setdefault(p.rule.values[0], []).append(p.rule)
    out: dict[Rule, Violation] = {}
    for p in policy.added.values():
        if p.kind is Kind.APPROVAL and p.rule.values[0] not in owners \
                or p.kind is Kind.APPROVAL_SUBJECT and p.rule.values[0] not in grants:
            out[p.rule] = _unpaired(p.rule)
    for p in removed:
        if p.kind is Kind.APPROVAL and p.rule.values[0] not in grants:
            partners = owners.get(p.rule.values[0], ())
        elif p.kind is Kind.APPROVAL_SUBJECT and p.rule.values[0] not in owners:
            partners = grants.get(p.rule.values[0], ())
        else:
            continue
        for partner in partners:
            if partner not in policy.added:
                out[partner] = _unpaired(partner)
    return list(out.values())


def _owner_in_stores(policy: TenantPolicy, removed: list[Parsed]) -> list[Violation]:
    """R3: the owner stays in every store (its assignment is an ordinary ASSIGNMENT)."""
    owner = R.owner(policy.tenant)
    out = []
    for p in removed:
        if p.kind is Kind.ASSIGNMENT and p.rule.values[0] == owner \
                and p.rule not in policy:
            store = Rule("g2", (p.rule.values[1], policy.tenant))
            if store in policy:
                out.append(Violation("owner-missing", f"the owner is not in store "
                                     f"{p.rule.values[1]} (R3)", store))
    return out


def require(policy: TenantPolicy, before: Directory) -> None:
    """Refuse (422, or 409 past the cap) a write whose result breaks an invariant.

    Checked where the write's changes reach when they stay within LOCAL kinds, else over
    the whole tenant. A violation the tenant already had before this write (a database
    from before these checks) does not block unrelated writes; only new ones are refused."""
    cap = policy.directory.settings.max_sub_accounts
    count = len(policy.directory.accounts)
    if count > cap and count > len(before.accounts):
        raise LimitReached(
            f"this tenant may have at most {cap} sub-accounts; this change would make "
            f"{count} (R11)", {"max_sub_accounts": [f"limit of {cap} sub-accounts"]})
    found = new_violations(policy, before)
    if found is None:
        found = whole_new_violations(policy, before)
    if not found:
        return
    raise InvalidInput(
        f"the change would leave the policy in a state no write may produce: "
        f"{found[0].message}",
        {"policy": [f"{v.message}" + (f" ({v.rule.csv()})" if v.rule else "")
                    for v in found[:100]]})


def whole_new_violations(policy: TenantPolicy, before: Directory) -> list[Violation]:
    """The whole check's violations that the tenant did not have before the write."""
    found = violations(policy)
    if not found:
        return []
    existing = {(v.code, v.message) for v in violations(
        TenantPolicy(policy.tenant, policy.original_rules(), before,
                     catalogue=policy.loaded_catalogue))}
    return [v for v in found if (v.code, v.message) not in existing]
