"""The permission catalogue (R9): every `area:action` the service knows, in one place.

A permission is checked as Casbin object = area, action = action. High-risk permissions
are the ones step-up (R10) can protect; owner-only ones (R13) can never be granted.

A tenant's catalogue (`Catalogue`) is these built-in permissions plus those of the apps it
installed (R21, domain/apps.py): an app permission is `<app>.<area>:<action>`, checked as
object `<app>.<area>`, so it is an ordinary Casbin rule. Built-in areas hold no '.'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidInput

CATALOGUE_VERSION = "2026-12-01.1"
# An app's id, and an area or action inside it: no '.' (the first one ends the app id),
# and short enough that `<app>.<area>` is still an identifier (64 characters at most).
APP_ID = re.compile(r"[a-z][a-z0-9-]{1,31}")
APP_PART = re.compile(r"[a-z][a-z0-9-]{0,30}")


@dataclass(frozen=True)
class Permission:
    area: str
    action: str
    description: str
    high_risk: bool = False
    owner_only: bool = False
    per_product: bool = False  # in a store run "by product", only a product's operators (R17)
    app: str | None = None  # the app that published it (None: built in)
    description_zh: str = ""  # an app's Simplified Chinese text (the console's, for built-ins)
    deprecated: bool = False  # an app's: still decided, no longer grantable
    # moves money (R22): checked with an amount; a grant of it may carry a limit
    amount: bool = False

    @property
    def name(self) -> str:
        return f"{self.area}:{self.action}"


def _p(name: str, description: str, *, high_risk: bool = False, owner_only: bool = False,
       per_product: bool = False, amount: bool = False):
    area, action = name.split(":")
    return Permission(area, action, description, high_risk, owner_only, per_product,
                      amount=amount)


PERMISSIONS: tuple[Permission, ...] = (
    _p("products:view", "See products and listings"),
    _p("products:create", "Create products and listings"),
    _p("products:edit", "Edit product details and images", per_product=True),
    _p("products:delete", "Delete products", high_risk=True, per_product=True),
    _p("prices:view", "See prices"),
    _p("prices:change", "Change prices", high_risk=True),
    _p("inventory:view", "See stock levels"),
    _p("inventory:adjust", "Adjust stock levels"),
    _p("orders:view", "See orders"),
    _p("orders:edit", "Edit orders (address, notes)"),
    _p("orders:ship", "Ship orders and print labels"),
    _p("orders:cancel", "Cancel orders", amount=True),
    _p("refunds:view", "See refund requests"),
    _p("refunds:approve", "Approve refunds and returns", high_risk=True, amount=True),
    _p("coupons:view", "See coupons"),
    _p("coupons:manage", "Create and edit coupons"),
    _p("marketing:view", "See campaigns and promotions"),
    _p("marketing:manage", "Run campaigns and promotions"),
    _p("finance:view", "See balances, statements and payouts"),
    _p("finance:withdraw", "Withdraw funds", high_risk=True, amount=True),
    _p("logistics:view", "See shipping settings and carriers"),
    _p("logistics:manage", "Change shipping settings and carriers"),
    _p("settings:view", "See store settings"),
    _p("settings:edit", "Change store settings", high_risk=True),
    _p("reports:view", "See reports"),
    _p("reports:export", "Export reports"),
    _p("chat:view", "Read customer conversations"),
    _p("chat:reply", "Reply to customers"),
    _p("staff:view", "See the staff list"),
    _p("staff:manage", "Create, edit, enable, disable sub-accounts", high_risk=True,
       owner_only=True),
    _p("staff:set-default-store", "Set a sub-account's default store", owner_only=True),
    _p("billing:view", "See plans and invoices"),
    _p("approvals:decide", "Approve or reject others' requests for approval (R24)"),
    _p("billing:purchase", "Buy plans", high_risk=True, owner_only=True),
)

BY_NAME: dict[str, Permission] = {p.name: p for p in PERMISSIONS}
PRODUCT_AREA = "products"  # the area a check about one product ("product/<id>") is in
PRODUCT = "product/"
OBJECTS = ("an area, product/<id>, or <app>.<area>/product/<id> (a per-product app "
           "permission)")


def split_object(obj: str) -> tuple[str, str] | None:
    """(area, product) of a check's object: `orders` -> ("orders", ""), `product/sku-1` ->
    ("products", "sku-1"), `quantum.campaigns/product/sku-1` -> ("quantum.campaigns",
    "sku-1"); None when it is none of these (the parts still to be checked as
    identifiers by the caller)."""
    head, slash, rest = obj.partition("/")
    if not slash:
        return obj, ""
    if head == "product":
        return PRODUCT_AREA, rest
    if app_of(head) is not None and rest.startswith(PRODUCT):
        return head, rest[len(PRODUCT):]
    return None


def app_of(area: str) -> str | None:
    """The app an area belongs to (`quantum` of `quantum.traffic`), None for a built-in."""
    app, dot, _ = area.partition(".")
    return app if dot else None


class Catalogue:
    """The permissions a tenant can grant and be asked about: the built-in ones plus, per
    installed app, the permissions of the app's current catalogue version."""

    def __init__(self, apps: dict[str, tuple[Permission, ...]] | None = None):
        self.apps: dict[str, tuple[Permission, ...]] = dict(apps or {})
        self.permissions: tuple[Permission, ...] = PERMISSIONS + tuple(
            p for app in sorted(self.apps) for p in self.apps[app])
        self.by_name: dict[str, Permission] = {p.name: p for p in self.permissions}

    def with_app(self, app: str, permissions: tuple[Permission, ...]) -> Catalogue:
        return Catalogue({**self.apps, app: permissions})

    def without_app(self, app: str) -> Catalogue:
        return Catalogue({a: p for a, p in self.apps.items() if a != app})

    def get(self, name: str) -> Permission | None:
        return self.by_name.get(name)

    def permission(self, name: str, field: str = "permission") -> Permission:
        """Look a permission up by name; unknown names are an input error naming `field`."""
        try:
            return self.by_name[name]
        except (KeyError, TypeError):
            app = app_of(name.partition(":")[0]) if isinstance(name, str) else None
            why = (f"app {app!r} is not installed in this tenant" if app is not None
                   and app not in self.apps else "not in the permission catalogue")
            raise InvalidInput(f"unknown permission {name!r}: {why}", {field: [why]}) from None

    def grantable(self, name: str, field: str = "permission") -> Permission:
        """A permission that may be granted to a sub-account or department (R13)."""
        perm = self.permission(name, field)
        if perm.owner_only:
            raise InvalidInput(
                f"{name} is an owner-only power and cannot be granted",
                {field: ["owner-only permission (R13)"]},
            )
        if perm.deprecated:
            raise InvalidInput(f"{name} is deprecated by its app and no longer granted",
                               {field: ["deprecated"]})
        return perm

    def high_risk(self) -> tuple[Permission, ...]:
        return tuple(p for p in self.permissions if p.high_risk)

    def per_product(self) -> tuple[Permission, ...]:
        return tuple(p for p in self.permissions if p.per_product)


BUILT_IN = Catalogue()


def permission(name: str, field: str = "permission") -> Permission:
    """A built-in permission by name (BUILT_IN.permission)."""
    return BUILT_IN.permission(name, field)


def grantable(name: str, field: str = "permission") -> Permission:
    """A built-in permission that may be granted (BUILT_IN.grantable)."""
    return BUILT_IN.grantable(name, field)
