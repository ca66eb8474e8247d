"""Sub-accounts, departments, store assignment and store revocation (R4, R5, R11-R16).

Plain functions over a TenantPolicy, like policy_admin: each refuses the whole operation
(naming every offending item) or edits rules and directory together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from . import catalogue
from . import policy_admin as A
from . import rules as R
from .accounts import BUILTIN_ROLES, LANGUAGES, Account
from .errors import Conflict, InvalidInput, LimitReached, NotFound
from .rules import Kind, Rule
from .tenant_policy import TenantPolicy

BATCH_MODES = ("add", "remove", "reset")


# -- tenants -------------------------------------------------------------------------------
def create_tenant(policy: TenantPolicy) -> None:
    """The owner's rule (R3) and the built-in role templates (R6)."""
    A.create_tenant(policy)
    for role, permissions in BUILTIN_ROLES.items():
        A.create_role(policy, role, list(permissions))


def set_max_sub_accounts(policy: TenantPolicy, limit: int) -> None:
    if not isinstance(limit, int) or limit < 0:
        raise InvalidInput("max_sub_accounts must be a whole number >= 0",
                           {"max_sub_accounts": ["whole number >= 0"]})
    policy.directory.settings.max_sub_accounts = limit


def set_language(policy: TenantPolicy, language: str) -> None:
    """The language the tenant's console speaks."""
    if language not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}",
                           {"language": list(LANGUAGES)})
    policy.directory.settings.language = language


# -- sub-accounts (R4, R11, R12, R15) ------------------------------------------------------
PROFILE_FIELDS = ("display_name", "email", "phone", "note")


def create_sub_account(policy: TenantPolicy, login: str, stores: Sequence[str],
                       profile: dict | None = None, departments: Sequence[str] = (),
                       roles: Sequence[dict] = ()) -> Account:
    """Create an active sub-account in the given stores; the first is its default (R15)."""
    R.login(login, "login")
    if login in policy.directory.accounts:
        raise Conflict(f"sub-account {login!r} exists", {"login": ["already exists"]})
    limit = policy.directory.settings.max_sub_accounts
    if len(policy.directory.accounts) >= limit:
        raise LimitReached(
            f"this tenant may have at most {limit} sub-accounts; disable is not delete, so "
            "raise the limit to add more (R11)",
            {"login": [f"limit of {limit} sub-accounts reached"]},
        )
    stores = A.require_stores(policy, stores)
    for i, dept in enumerate(departments):
        A.require_department(policy, dept, f"departments[{i}]")
    account = Account(login, **{k: v for k, v in (profile or {}).items()
                                if k in PROFILE_FIELDS})
    policy.directory.accounts[login] = account
    for store in stores:
        policy.add(_assignment(policy, login, store))
    account.default_store = stores[0]
    for dept in departments:
        A.add_member(policy, dept, login)
    who = A.Grantee("user", login)
    for grant in roles:
        A.grant_role(policy, who, grant["role"], grant["stores"])
    return account


def update_profile(policy: TenantPolicy, login: str, changes: dict) -> Account:
    account = A.require_account(policy, login)
    for key, value in changes.items():
        if key in PROFILE_FIELDS:
            setattr(account, key, value)
    return account


def is_disabled(policy: TenantPolicy, login: str) -> bool:
    return A.disabled_rule(policy.tenant, login) in policy


def set_default_store(policy: TenantPolicy, login: str, store: str) -> None:
    """Only ever one of the sub-account's assigned stores (R15)."""
    account = A.require_account(policy, login)
    R.identifier(store, "store")
    if store not in A.assigned_stores(policy, login):
        raise InvalidInput(f"{store!r} is not assigned to {login!r}",
                           {"store": ["not an assigned store"]})
    account.default_store = store


def _assignment(policy: TenantPolicy, login: str, store: str) -> Rule:
    return Rule("g", (R.user(policy.tenant, login), R.store(policy.tenant, store)))


def _settle_default(policy: TenantPolicy, login: str, report: dict) -> None:
    """Keep the default an assigned store: else the earliest assigned; none left: disable."""
    account = policy.directory.accounts[login]
    stores = A.assigned_stores(policy, login)
    if account.default_store in stores:
        return
    account.default_store = stores[0] if stores else None
    if stores:
        report.setdefault("default_store_changed", {})[login] = stores[0]
    elif not is_disabled(policy, login):
        A.set_disabled(policy, login, True)
        report.setdefault("disabled", []).append(login)


def set_stores(policy: TenantPolicy, login: str, stores: Sequence[str],
               default_store: str | None = None) -> dict:
    """Assign exactly these stores to one sub-account (R14), and with `default_store` (one
    of them) make it the default (R15)."""
    report = batch_assign(policy, "reset", [login], stores)
    if default_store is not None:
        set_default_store(policy, login, default_store)
    return report


def batch_assign(policy: TenantPolicy, mode: str, logins: Sequence[str],
                 stores: Sequence[str]) -> dict:
    """Add, remove, or reset to exactly `stores`, for every sub-account listed (R14).

    All or nothing: every unknown sub-account and store is named in one error.
    """
    if mode not in BATCH_MODES:
        raise InvalidInput(f"mode must be one of {', '.join(BATCH_MODES)}",
                           {"mode": ["add, remove or reset"]})
    errors: dict[str, list[str]] = {}
    if not isinstance(logins, list | tuple) or not logins:
        errors["subjects"] = ["non-empty list"]
    else:
        bad = sorted({str(x) for x in logins
                      if not isinstance(x, str) or x not in policy.directory.accounts})
        if bad:
            errors["subjects"] = [f"no such sub-account: {x}" for x in bad]
    if mode != "reset" and not stores:
        errors["stores"] = ["non-empty list"]
    known = policy.stores()
    bad_stores = sorted({str(s) for s in stores if not isinstance(s, str) or s not in known})
    if bad_stores:
        errors["stores"] = [f"no such store: {s}" for s in bad_stores]
    if errors:
        raise NotFound("nothing was changed: " + "; ".join(
            f"{k}: {', '.join(v)}" for k, v in errors.items()), errors)
    report: dict = {"mode": mode, "subjects": list(dict.fromkeys(logins)), "changes": {}}
    for login in report["subjects"]:
        current = set(A.assigned_stores(policy, login))
        wanted = set(stores)
        add = wanted - current if mode in ("add", "reset") else set()
        drop = (current & wanted if mode == "remove"
                else current - wanted if mode == "reset" else set())
        if add or drop:
            report["changes"][login] = {"added": [s for s in stores if s in add],
                                        "removed": sorted(drop)}
        for store in stores:  # in the order given, so "earliest assigned" is predictable
            if store in add:
                policy.add(_assignment(policy, login, store))
        for store in sorted(drop):
            _drop_store_rules(policy, login, store)
        account = policy.directory.accounts[login]
        if account.default_store is None and A.assigned_stores(policy, login):
            account.default_store = A.assigned_stores(policy, login)[0]
        _settle_default(policy, login, report)
    report.setdefault("default_store_changed", {})
    report.setdefault("disabled", [])
    return report


def _drop_store_rules(policy: TenantPolicy, login: str, store: str) -> None:
    """Unassign a store. Grants in it stay, inert without the assignment, as they do for a
    disabled account: assigning the store again restores them."""
    policy.remove(_assignment(policy, login, store))


# -- stores (R2, R16) ----------------------------------------------------------------------
def revoke_store(policy: TenantPolicy, store: str) -> dict:
    """Remove a store and everything in it, in one change (R16). Returns what changed."""
    R.identifier(store, "store")
    if store not in policy.stores():
        raise NotFound(f"no such store {store!r}", {"store": ["not found"]})
    domain = R.store(policy.tenant, store)
    removed: list[str] = []
    affected: list[str] = []
    approvals: set[str] = set()
    for p in policy.of_kind(Kind.STORE, Kind.ASSIGNMENT, Kind.GRANT, Kind.DIRECT,
                            Kind.BY_PRODUCT, Kind.PRODUCT_OPERATOR, Kind.ALL_PRODUCTS,
                            Kind.APPROVAL):
        values = p.rule.values
        in_store = (values[0] == domain if p.kind is Kind.STORE
                    else values[1].endswith("@" + domain) if p.kind is Kind.GRANT
                    else values[1].partition("~")[0] == domain)
        if in_store:
            policy.remove(p.rule)
            removed.append(p.rule.csv())
            if p.kind is Kind.ASSIGNMENT and values[0] != R.owner(policy.tenant):
                affected.append(values[0].split(":", 2)[2])
            if p.kind is Kind.APPROVAL:
                approvals.add(values[0])
    for p in policy.of_kind(Kind.APPROVAL_SUBJECT):  # (whose those approvals were)
        if p.rule.values[0] in approvals:
            policy.remove(p.rule)
            removed.append(p.rule.csv())
    policy.directory.currencies.pop(store, None)
    report: dict = {"store": store, "removed_rules": sorted(removed)}
    for login in sorted(affected):
        _settle_default(policy, login, report)
    report.setdefault("default_store_changed", {})
    report.setdefault("disabled", [])
    return report


# -- per-product operators (R17) ----------------------------------------------------------
STORE_MODES = ("by-store", "by-product")


def _by_product_rules(policy: TenantPolicy, store: str) -> list[Rule]:
    domain = R.store(policy.tenant, store)
    return [Rule("p", (R.BY_PRODUCT, domain, p.area, p.action, "deny"))
            for p in policy.catalogue.per_product()] + \
        [Rule("g", (R.owner(policy.tenant), R.all_products(domain)))]


def store_mode(policy: TenantPolicy, store: str) -> str:
    return STORE_MODES[1] if _by_product_rules(policy, store)[0] in policy else STORE_MODES[0]


def set_store_mode(policy: TenantPolicy, store: str, mode: str) -> None:
    """Run a store by store (operators act on all its products) or by product (R17)."""
    A.require_stores(policy, [store], "store")
    if mode not in STORE_MODES:
        raise InvalidInput("mode must be by-store or by-product", {"mode": list(STORE_MODES)})
    for rule in _by_product_rules(policy, store):
        if mode == "by-product":
            policy.add(rule)
        else:
            policy.remove(rule)


def _operator_rule(policy: TenantPolicy, store: str, product: str, login: str) -> Rule:
    A.require_stores(policy, [store], "store")
    R.identifier(product, "product")
    A.require_account(policy, login)
    return Rule("g", (R.user(policy.tenant, login),
                      R.product(R.store(policy.tenant, store), product)))


def add_product_operator(policy: TenantPolicy, store: str, product: str, login: str) -> None:
    policy.add(_operator_rule(policy, store, product, login))


def remove_product_operator(policy: TenantPolicy, store: str, product: str,
                            login: str) -> None:
    if not policy.remove(_operator_rule(policy, store, product, login)):
        raise NotFound("not an operator of this product", {"login": ["not an operator"]})


def product_operators(policy: TenantPolicy, store: str) -> dict[str, list[str]]:
    """Product id -> operators' logins, for one store."""
    prefix = R.product(R.store(policy.tenant, store), "")
    out: dict[str, list[str]] = {}
    for p in policy.of_kind(Kind.PRODUCT_OPERATOR):
        who, node = p.rule.values
        if node.startswith(prefix):
            out.setdefault(node[len(prefix):], []).append(who.split(":", 2)[2])
    return {k: sorted(v) for k, v in sorted(out.items())}


def products(policy: TenantPolicy, store: str) -> dict:
    """A store's mode and each product's operators (R17)."""
    A.require_stores(policy, [store], "store")
    return {"store": store, "mode": store_mode(policy, store),
            "operators": product_operators(policy, store)}


def run_store(policy: TenantPolicy, store: str, mode: str) -> dict:
    """set_store_mode, answering the store's products as they then are."""
    set_store_mode(policy, store, mode)
    return products(policy, store)


# -- departments (R5) ----------------------------------------------------------------------
def create_department(policy: TenantPolicy, department: str, name: str = "") -> None:
    R.identifier(department, "department")
    if department in policy.directory.departments:
        raise Conflict(f"department {department!r} exists", {"department": ["already exists"]})
    policy.directory.departments[department] = name or department


def rename_department(policy: TenantPolicy, department: str, name: str) -> None:
    A.require_department(policy, department)
    policy.directory.departments[department] = name


def members(policy: TenantPolicy, department: str) -> list[str]:
    value = R.department(policy.tenant, department)
    return sorted(p.rule.values[0].split(":", 2)[2] for p in policy.of_kind(Kind.MEMBERSHIP)
                  if p.rule.values[1] == value)


def set_departments(policy: TenantPolicy, login: str, departments: Sequence[str]) -> None:
    """Exactly these departments for one sub-account; it holds their grants (R5)."""
    wanted, current = set(departments), set(departments_of(policy, login))
    for dept in sorted(wanted - current):
        A.add_member(policy, dept, login)
    for dept in sorted(current - wanted):
        A.remove_member(policy, dept, login)


def departments_of(policy: TenantPolicy, login: str) -> list[str]:
    value = R.user(policy.tenant, login)
    return sorted(p.rule.values[1].split(":", 2)[2] for p in policy.of_kind(Kind.MEMBERSHIP)
                  if p.rule.values[0] == value)


# -- step-up (R10) -------------------------------------------------------------------------
def step_up_rules(tenant: str, known: catalogue.Catalogue = catalogue.BUILT_IN) -> list[Rule]:
    """The step-up rules of every high-risk permission in the tenant's catalogue `known`."""
    return [Rule("p", (R.STEP_UP, tenant, p.area, p.action, "deny"))
            for p in known.high_risk()]


def set_step_up(policy: TenantPolicy, enabled: bool) -> None:
    """High-risk permissions need a second factor in every store of the tenant (R10), the
    installed apps' included.

    Kept as rules, so an auditor sees it in the export.
    """
    if not enabled:  # every step-up rule, also of a permission no longer high-risk
        for p in policy.of_kind(Kind.STEP_UP):
            policy.remove(p.rule)
        return
    for rule in step_up_rules(policy.tenant, policy.catalogue):
        policy.add(rule)


def step_up_enabled(policy: TenantPolicy) -> bool:
    return bool(policy.of_kind(Kind.STEP_UP))


# -- reading -------------------------------------------------------------------------------
def view(policy: TenantPolicy, login: str, summary: dict | None = None) -> dict:
    """Everything the owner sees of one sub-account."""
    account = A.require_account(policy, login)
    summary = summary if summary is not None else A.describe(policy)
    return {
        **asdict(account),
        "status": "disabled" if is_disabled(policy, login) else "active",
        "stores": A.assigned_stores(policy, login),
        "departments": departments_of(policy, login),
        "grants": [g for g in summary["grants"] if g.get("subject") == login],
        "permissions": [g for g in summary["permissions"] if g.get("subject") == login],
        "denies": [g for g in summary["denies"] if g.get("subject") == login],
    }


def listing(policy: TenantPolicy, *, status: str | None = None, store: str | None = None,
            department: str | None = None, q: str | None = None) -> list[dict]:
    """Sub-accounts matching every filter given, by login."""
    out = []
    summary = A.describe(policy)
    for login in sorted(policy.directory.accounts):
        item = view(policy, login, summary)
        if status and item["status"] != status:
            continue
        if store and store not in item["stores"]:
            continue
        if department and department not in item["departments"]:
            continue
        if q and q.lower() not in " ".join(
                (login, item["display_name"], item["email"])).lower():
            continue
        out.append(item)
    return out


# -- whole-file imports (R20) ----------------------------------------------------------------
def sync_directory(policy: TenantPolicy) -> None:
    """Profiles for sub-accounts and departments the rules name but the directory lacks,
    and a default store (R15) for every sub-account whose default is not assigned."""
    directory = policy.directory
    for parsed in policy.of_kind(Kind.ASSIGNMENT, Kind.MEMBERSHIP, Kind.GRANT, Kind.DIRECT,
                                 Kind.DISABLED, Kind.PRODUCT_OPERATOR):
        kind, _, name = parsed.rule.values[0].split(":", 2)
        if kind == "user" and name != R.OWNER_LOGIN and name not in directory.accounts:
            directory.accounts[name] = Account(name, display_name=name)
        if kind == "dept":
            directory.departments.setdefault(name, name)
        if parsed.kind is Kind.MEMBERSHIP:
            dept = parsed.rule.values[1].split(":", 2)[2]
            directory.departments.setdefault(dept, dept)
    # One pass over the assignments, not one per account: a file may hold thousands.
    assigned: dict[str, list[str]] = {}
    for parsed in policy.of_kind(Kind.ASSIGNMENT):
        user, store = parsed.rule.values
        assigned.setdefault(user.split(":", 2)[2], []).append(store.split("/", 1)[1])
    for login, account in directory.accounts.items():
        stores = assigned.get(login, [])
        if account.default_store not in stores:
            account.default_store = stores[0] if stores else None


def replace_rules(policy: TenantPolicy, rules: set[Rule]) -> None:
    """Make the tenant's rules exactly `rules` (already checked by policy_files.lint)."""
    current = set(policy.rules())
    for rule in sorted(current - rules):
        policy.remove(rule)
    for rule in sorted(rules - current):
        policy.add(rule)
    sync_directory(policy)
