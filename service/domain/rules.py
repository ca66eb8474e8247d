"""How seller concepts become Casbin rule values, and the strict grammar that reads them back.

Every value that reaches Casbin is built here from identifiers checked by `identifier()`.
Those identifiers cannot hold `, : / @ *` or spaces, so a stored row can never be read back
as another rule, and no value can act as a separator or a wildcard. `parse()` accepts only
the rule shapes listed in policies/model.conf; anything else is refused, which is what
makes an imported or seeded CSV as safe as a write through the API.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import NamedTuple

from . import amounts, catalogue
from .errors import InvalidInput

IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
OWNER_LOGIN = "owner"
STEP_UP = "step-up"
BY_PRODUCT = "by-product"
APPROVAL_ALWAYS = "approval"  # p, approval, <tenant>, area, action, deny (R24)
APPROVAL_OVER_LIMIT = "approval-over-limit"  # a marker the matcher never matches (R24)
ANY = "*"


def identifier(value: object, field: str) -> str:
    """Return `value` if it is a valid identifier, else an input error naming `field`."""
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise InvalidInput(
            f"{field} must be 1-64 characters of a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit",
            {field: ["invalid identifier"]},
        )
    return value


def login(value: object, field: str = "subject") -> str:
    """A sub-account login: an identifier other than the owner's reserved one."""
    identifier(value, field)
    if value == OWNER_LOGIN:
        raise InvalidInput(f"{field} {OWNER_LOGIN!r} is the main account", {field: ["reserved"]})
    return value  # type: ignore[return-value]


# Builders: the only place that knows the textual form of each Casbin value.
def user(tenant: str, name: str) -> str:
    return f"user:{tenant}:{name}"


def owner(tenant: str) -> str:
    return user(tenant, OWNER_LOGIN)


def department(tenant: str, name: str) -> str:
    return f"dept:{tenant}:{name}"


def role(tenant: str, name: str) -> str:
    return f"role:{tenant}:{name}"


def store(tenant: str, name: str) -> str:
    return f"{tenant}/{name}"


def scoped_role(role_value: str, scope: str) -> str:
    """A role held in one scope: a store domain, or the tenant (all of its stores)."""
    return f"{role_value}@{scope}"


def product(store_value: str, product_id: str) -> str:
    """One product of a store, as operated by its operators (R17)."""
    return f"{store_value}~product/{product_id}"


def all_products(store_value: str) -> str:
    """Every product of a store: the owner operates them all."""
    return f"{store_value}~products"


def approval(tenant: str, approval_id: str) -> str:
    """An approved request (R24): the subject of its one-shot grant, and what a check
    passes to use it."""
    return f"{APPROVAL_PREFIX}{tenant}:{approval_id}"


APPROVAL_PREFIX = "approval:"


class Kind(Enum):
    STORE = "store"  # g2, <store>, <tenant>
    ASSIGNMENT = "assignment"  # g, <user>, <store>
    MEMBERSHIP = "membership"  # g, <user>, <department>
    GRANT = "grant"  # g, <user|department>, <role>@<store|tenant>
    ROLE_PERMISSION = "role_permission"  # p, <role>, <tenant>, area, action, allow
    DIRECT = "direct"  # p, <user|department>, <store|tenant>, area, action, allow|deny
    DISABLED = "disabled"  # p, <user>, <tenant>, *, *, deny
    OWNER = "owner"  # p, <owner>, <tenant>, *, *, allow: every built-in permission
    OWNER_APP = "owner_app"  # p, <owner>, <tenant>, <app>.*, *, allow: an installed app's
    STEP_UP = "step_up"  # p, step-up, <tenant>, area, action, deny
    BY_PRODUCT = "by_product"  # p, by-product, <store>, products, action, deny
    PRODUCT_OPERATOR = "product_operator"  # g, <user>, <store>~product/<id>
    ALL_PRODUCTS = "all_products"  # g, <owner>, <store>~products
    APP = "app"  # g2, app:<app>, <tenant>: the tenant installed the app (R21)
    # R24: an approved request's one-shot grant, and whose request it was
    APPROVAL = "approval"  # p, approval:<tenant>:<id>, <store>[~product/<id>], area, action, allow
    APPROVAL_SUBJECT = "approval_subject"  # g2, approval:<tenant>:<id>, <user>
    APPROVAL_ALWAYS = "approval_always"  # p, approval, <tenant>, area, action, deny
    APPROVAL_OVER_LIMIT = "approval_over_limit"  # p, approval-over-limit, <tenant>, area, ...


class Rule(NamedTuple):
    """One Casbin rule row exactly as stored: ptype plus its values.

    A NamedTuple rather than a dataclass: a million of them are made at start-up."""

    ptype: str
    values: tuple[str, ...]

    def csv(self) -> str:
        return ", ".join((self.ptype, *self.values))


def csv_text(rules) -> str:
    """Rules as Casbin CSV, one per line, sorted: the same policy gives the same bytes."""
    return "".join(rule.csv() + "\n" for rule in sorted(rules))


class Parsed(NamedTuple):
    kind: Kind
    tenant: str
    rule: Rule


class _Bad(Exception):
    pass


def _ident(value: str) -> str:
    if not IDENTIFIER.fullmatch(value):
        raise _Bad(f"bad identifier {value!r}")
    return value


def _principal(value: str, kinds: tuple[str, ...]) -> tuple[str, str, str]:
    parts = value.split(":")
    if len(parts) != 3 or parts[0] not in kinds:
        raise _Bad(f"{value!r} is not one of {'/'.join(kinds)}:<tenant>:<name>")
    return parts[0], _ident(parts[1]), _ident(parts[2])


def _store(value: str) -> tuple[str, str]:
    parts = value.split("/")
    if len(parts) != 2:
        raise _Bad(f"{value!r} is not <tenant>/<store>")
    return _ident(parts[0]), _ident(parts[1])


def _scope(value: str, tenant: str) -> None:
    """A scope is the tenant itself or one of its stores."""
    if "/" in value:
        if _store(value)[0] != tenant:
            raise _Bad(f"scope {value!r} is another tenant's store")
    elif _ident(value) != tenant:
        raise _Bad(f"scope {value!r} is another tenant")


def installed(app: str) -> str:
    """The g2 value that says a tenant installed `app` (g2, app:<app>, <tenant>)."""
    return f"{APP_PREFIX}{app}"


def owner_app(tenant: str, app: str) -> Rule:
    """The owner's rule for an installed app's permissions (R3, R21): the owner's `*` rule
    matches no app's object in the model, so that stock pycasbin answers "not installed"
    for the owner too; this one matches the app's objects (keyMatch on `<app>.*`)."""
    return Rule("p", (owner(tenant), tenant, f"{app}.{ANY}", ANY, "allow"))


APP_PREFIX = "app:"


def _permission(area: str, act: str, *, allow: bool,
                known: catalogue.Catalogue) -> catalogue.Permission:
    action, limit = amounts.split(act)
    name = f"{area}:{action}"
    perm = known.get(name)
    if perm is None:
        app = catalogue.app_of(area)
        if app is not None and app not in known.apps:
            raise _Bad(f"{name!r} is a permission of app {app!r}, not installed here")
        raise _Bad(f"unknown permission {name!r}")
    if allow and perm.owner_only:
        raise _Bad(f"{name} is owner-only and cannot be granted (R13)")
    if limit and not (allow and perm.amount and amounts.is_stored(limit)):
        raise _Bad(f"a limit is {amounts.INTEGER_DIGITS} digits, a point and 2 decimals, on "
                   "an allow of a permission that moves money (R22)")
    return perm


def _sub_account(kind: str, name: str) -> None:
    if kind == "user" and name == OWNER_LOGIN:
        raise _Bad("the main account takes no grants, memberships or denies")


def _parse(rule: Rule, known: catalogue.Catalogue) -> Parsed:
    v = rule.values
    if rule.ptype == "g2":
        if len(v) != 2:
            raise _Bad("g2 takes 2 values")
        if v[0].startswith(APPROVAL_PREFIX):
            _, tenant, _ = _principal(v[0], ("approval",))
            _, of, name = _principal(v[1], ("user",))
            if of != tenant:
                raise _Bad("an approval of another tenant's sub-account")
            _sub_account("user", name)
            return Parsed(Kind.APPROVAL_SUBJECT, tenant, rule)
        if v[0].startswith(APP_PREFIX):
            if not catalogue.APP_ID.fullmatch(v[0][len(APP_PREFIX):]):
                raise _Bad(f"{v[0]!r} is not app:<app id>")
            return Parsed(Kind.APP, _ident(v[1]), rule)
        tenant, _ = _store(v[0])
        if _ident(v[1]) != tenant:
            raise _Bad("a store belongs to the tenant named in its id")
        return Parsed(Kind.STORE, tenant, rule)
    if rule.ptype == "g":
        if len(v) != 2:
            raise _Bad("g takes 2 values")
        if v[1].startswith("role:"):
            kind, tenant, name = _principal(v[0], ("user", "dept"))
            _sub_account(kind, name)
            role_value, at, scope = v[1].partition("@")
            if not at or _principal(role_value, ("role",))[1] != tenant:
                raise _Bad(f"{v[1]!r} is not role:<tenant>:<name>@<scope> of this tenant")
            _scope(scope, tenant)
            return Parsed(Kind.GRANT, tenant, rule)
        if "~" in v[1]:
            _, tenant, name = _principal(v[0], ("user",))
            store_value, _, item = v[1].partition("~")
            if _store(store_value)[0] != tenant:
                raise _Bad("a product of another tenant's store")
            if item == "products":
                if name != OWNER_LOGIN:
                    raise _Bad("only the main account operates every product")
                return Parsed(Kind.ALL_PRODUCTS, tenant, rule)
            kind, _, product_id = item.partition("/")
            if kind != "product":
                raise _Bad(f"{v[1]!r} is not <store>~product/<id>")
            _ident(product_id)
            _sub_account("user", name)
            return Parsed(Kind.PRODUCT_OPERATOR, tenant, rule)
        if v[1].startswith("dept:"):
            _, tenant, name = _principal(v[0], ("user",))
            _sub_account("user", name)
            if _principal(v[1], ("dept",))[1] != tenant:
                raise _Bad("a department of another tenant")
            return Parsed(Kind.MEMBERSHIP, tenant, rule)
        _, tenant, _ = _principal(v[0], ("user",))
        if _store(v[1])[0] != tenant:
            raise _Bad("an assignment to another tenant's store")
        return Parsed(Kind.ASSIGNMENT, tenant, rule)
    if rule.ptype == "p":
        if len(v) != 5:
            raise _Bad("p takes 5 values")
        sub, dom, obj, act, eft = v
        if eft not in ("allow", "deny"):
            raise _Bad("effect is allow or deny")
        if sub == STEP_UP:
            tenant = _ident(dom)
            perm = _permission(obj, act, allow=False, known=known)
            if eft != "deny" or not perm.high_risk:
                raise _Bad("step-up rules deny high-risk permissions only")
            return Parsed(Kind.STEP_UP, tenant, rule)
        if sub in (APPROVAL_ALWAYS, APPROVAL_OVER_LIMIT):
            tenant = _ident(dom)
            perm = _permission(obj, act, allow=False, known=known)
            if eft != "deny" or perm.owner_only:
                raise _Bad("approval rules are denies of a grantable permission")
            if sub == APPROVAL_OVER_LIMIT and not perm.amount:
                raise _Bad("approval over the limit is for permissions that move money")
            return Parsed(Kind.APPROVAL_ALWAYS if sub == APPROVAL_ALWAYS
                          else Kind.APPROVAL_OVER_LIMIT, tenant, rule)
        if sub.startswith(APPROVAL_PREFIX):
            _, tenant, _ = _principal(sub, ("approval",))
            where, tilde, item = dom.partition("~")
            if _store(where)[0] != tenant:
                raise _Bad("an approval in another tenant's store")
            if tilde and not (item.startswith("product/") and _ident(item[8:])):
                raise _Bad(f"{dom!r} is not <store> or <store>~product/<id>")
            if eft != "allow":
                raise _Bad("an approval allows")
            _permission(obj, act, allow=True, known=known)
            return Parsed(Kind.APPROVAL, tenant, rule)
        if sub == BY_PRODUCT:
            tenant, _ = _store(dom)
            perm = known.get(f"{obj}:{act}")
            if eft != "deny" or perm is None or not perm.per_product:
                raise _Bad("by-product rules deny per-product permissions only")
            return Parsed(Kind.BY_PRODUCT, tenant, rule)
        if act == ANY and obj.endswith(f".{ANY}") and obj != ANY:
            kind, tenant, name = _principal(sub, ("user",))
            if not catalogue.APP_ID.fullmatch(obj[:-2]) or dom != tenant \
                    or name != OWNER_LOGIN or eft != "allow":
                raise _Bad("'<app>.*' appears only in the owner's '<tenant>, <app>.*, *, "
                           "allow'")
            return Parsed(Kind.OWNER_APP, tenant, rule)
        if obj == ANY or act == ANY:
            kind, tenant, name = _principal(sub, ("user",))
            if (obj, act, dom) != (ANY, ANY, tenant):
                raise _Bad("'*' appears only as '<tenant>, *, *'")
            if name == OWNER_LOGIN and eft == "allow":
                return Parsed(Kind.OWNER, tenant, rule)
            if name != OWNER_LOGIN and eft == "deny":
                return Parsed(Kind.DISABLED, tenant, rule)
            raise _Bad("'*' rules are the owner's allow or a disabled sub-account's deny")
        if sub.startswith("role:"):
            _, tenant, _ = _principal(sub, ("role",))
            if dom != tenant or eft != "allow":
                raise _Bad("a role's permissions are tenant-wide allows")
            _permission(obj, act, allow=True, known=known)
            return Parsed(Kind.ROLE_PERMISSION, tenant, rule)
        kind, tenant, name = _principal(sub, ("user", "dept"))
        _sub_account(kind, name)
        _scope(dom, tenant)
        _permission(obj, act, allow=eft == "allow", known=known)
        return Parsed(Kind.DIRECT, tenant, rule)
    raise _Bad(f"unknown rule type {rule.ptype!r}")


def parse(rule: Rule, where: str = "rule",
          known: catalogue.Catalogue = catalogue.BUILT_IN) -> Parsed:
    """Classify a rule, or raise InvalidInput saying why it is not one the service writes.
    `known`: the tenant's catalogue (built-in permissions and its apps')."""
    try:
        if not all(isinstance(x, str) for x in rule.values):
            raise _Bad("values must be text")
        return _parse(rule, known)
    except _Bad as exc:
        raise InvalidInput(f"{where}: {exc}", {where: [str(exc)]}) from None


def classify(rule: Rule) -> Kind:
    """The kind of a rule already known to be valid (it was parsed before it was stored).

    By prefixes alone: a tenant's rules are read back on every write and a million of them
    at start-up, where parsing each again would cost seconds."""
    return classify_values(rule.ptype, rule.values)


def classify_values(ptype: str, v: tuple[str, ...]) -> Kind:
    if ptype == "g2":
        if "/" in v[0]:
            return Kind.STORE
        return Kind.APP if v[0].startswith(APP_PREFIX) else Kind.APPROVAL_SUBJECT
    if ptype == "g":
        target = v[1]
        if target.startswith("role:"):
            return Kind.GRANT
        if target.startswith("dept:"):
            return Kind.MEMBERSHIP
        if "~" in target:
            return Kind.ALL_PRODUCTS if target.endswith("~products") else Kind.PRODUCT_OPERATOR
        return Kind.ASSIGNMENT
    sub = v[0]
    if sub == STEP_UP:
        return Kind.STEP_UP
    if sub == BY_PRODUCT:
        return Kind.BY_PRODUCT
    if v[2] == ANY:
        return Kind.OWNER if v[4] == "allow" else Kind.DISABLED
    if v[3] == ANY:
        return Kind.OWNER_APP
    if sub.startswith("role:"):
        return Kind.ROLE_PERMISSION
    if sub.startswith(APPROVAL_ALWAYS):
        return Kind.APPROVAL if sub.startswith(APPROVAL_PREFIX) else (
            Kind.APPROVAL_ALWAYS if sub == APPROVAL_ALWAYS else Kind.APPROVAL_OVER_LIMIT)
    return Kind.DIRECT


def stored(text: str) -> Rule:
    """A rule the service wrote, from its CSV line (an expiry names its rule so): split,
    not parsed again, since it was held to the grammar and the tenant's catalogue when
    written (an app's permission may since have been renamed away)."""
    fields = [f.strip() for f in text.split(",")]
    return Rule(fields[0], tuple(fields[1:]))


def read_csv(text: str, source: str = "csv",
             known: catalogue.Catalogue = catalogue.BUILT_IN) -> list[Parsed]:
    """Read Casbin CSV lines (`#` comments and blank lines skipped), each strictly parsed."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        out.append(parse(Rule(fields[0], tuple(fields[1:])), f"{source}:{number}", known))
    return out
