"""The permission catalogue (R9): every `area:action` the service knows, in one place.

A permission is checked as Casbin object = area, action = action. High-risk permissions
are the ones step-up (R10) can protect; owner-only ones (R13) can never be granted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidInput

CATALOGUE_VERSION = "2026-11-22.1"


@dataclass(frozen=True)
class Permission:
    area: str
    action: str
    description: str
    high_risk: bool = False
    owner_only: bool = False
    per_product: bool = False  # in a store run "by product", only a product's operators (R17)

    @property
    def name(self) -> str:
        return f"{self.area}:{self.action}"


def _p(name: str, description: str, *, high_risk: bool = False, owner_only: bool = False,
       per_product: bool = False):
    area, action = name.split(":")
    return Permission(area, action, description, high_risk, owner_only, per_product)


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
    _p("orders:cancel", "Cancel orders"),
    _p("refunds:view", "See refund requests"),
    _p("refunds:approve", "Approve refunds and returns", high_risk=True),
    _p("coupons:view", "See coupons"),
    _p("coupons:manage", "Create and edit coupons"),
    _p("marketing:view", "See campaigns and promotions"),
    _p("marketing:manage", "Run campaigns and promotions"),
    _p("finance:view", "See balances, statements and payouts"),
    _p("finance:withdraw", "Withdraw funds", high_risk=True),
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
    _p("billing:purchase", "Buy plans", high_risk=True, owner_only=True),
)

BY_NAME: dict[str, Permission] = {p.name: p for p in PERMISSIONS}
PRODUCT_AREA = "products"  # the area a check about one product ("product/<id>") is in


def permission(name: str, field: str = "permission") -> Permission:
    """Look a permission up by name; unknown names are an input error naming `field`."""
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise InvalidInput(
            f"unknown permission {name!r}", {field: ["not in the permission catalogue"]}
        ) from None


def grantable(name: str, field: str = "permission") -> Permission:
    """A permission that may be granted to a sub-account or department (R13)."""
    perm = permission(name, field)
    if perm.owner_only:
        raise InvalidInput(
            f"{name} is an owner-only power and cannot be granted",
            {field: ["owner-only permission (R13)"]},
        )
    return perm
