"""A sub-account's edits (R4, R5, R12, R14, R15): one named use case per edit, the one the
API and the console both call, each its own row in the rights table and named in its
ledger entry (`details.use_case`). Each is one write; each answers (revision, what the
API shows of it): the sub-account as it then is where the API shows it (a view reads
the tenant's grants, so the others do not build one)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..domain import keys
from ..domain import policy_admin as A
from ..domain import subaccounts as S
from ..domain.tenant_policy import TenantPolicy
from . import rights
from .authz import Authz
from .rights import operation


def _viewed(login: str, change: Callable[[TenantPolicy], object]
            ) -> Callable[[TenantPolicy], dict]:
    """`change`, answering the sub-account as it then is. (Each use case checked the
    caller's right: it commits, rather than write, which would check again.)"""
    def edit(policy: TenantPolicy) -> dict:
        change(policy)
        return S.view(policy, login)

    return edit


@operation(rights.SUBACCOUNT_CREATE)
def create(service: Authz, caller: keys.Caller, tenant: str, login: str,
           stores: Sequence[str], profile: dict, departments: Sequence[str] = (),
           roles: Sequence[dict] = (), reason: str | None = None) -> tuple[int, dict]:
    """A new active sub-account in `stores` (the first its default), in `departments`,
    with `roles` ({"role", "stores"}); refused past the tenant's cap (R11)."""
    def change(policy: TenantPolicy) -> None:
        S.create_sub_account(policy, login, stores, profile, departments, roles)

    return service.commit(caller, tenant, reason, _viewed(login, change),
                          use_case=rights.SUBACCOUNT_CREATE)


@operation(rights.SUBACCOUNT_PROFILE)
def update_profile(service: Authz, caller: keys.Caller, tenant: str, login: str,
                   changes: dict, reason: str | None = None) -> tuple[int, dict]:
    """Its name, email, phone and note (R4)."""
    def change(policy: TenantPolicy) -> None:
        S.update_profile(policy, login, changes)

    return service.commit(caller, tenant, reason, _viewed(login, change),
                          use_case=rights.SUBACCOUNT_PROFILE)


@operation(rights.SUBACCOUNT_STATUS)
def set_disabled(service: Authz, caller: keys.Caller, tenant: str, login: str,
                 disabled: bool, reason: str | None = None) -> tuple[int, None]:
    """Disable (deny everything, grants kept) or enable again (R12)."""
    return service.commit(caller, tenant, reason,
                          lambda policy: A.set_disabled(policy, login, disabled),
                          use_case=rights.SUBACCOUNT_STATUS)


@operation(rights.SUBACCOUNT_STORES)
def set_stores(service: Authz, caller: keys.Caller, tenant: str, login: str,
               stores: Sequence[str], default_store: str | None = None,
               reason: str | None = None) -> tuple[int, dict]:
    """Exactly these stores (R14), and with `default_store` (one of them) its default
    (R15) in the same write. Answers the report of what changed."""
    def change(policy: TenantPolicy) -> dict:
        report = S.set_stores(policy, login, stores)
        if default_store is not None:
            S.set_default_store(policy, login, default_store)
        return report

    return service.commit(caller, tenant, reason, change, use_case=rights.SUBACCOUNT_STORES)


@operation(rights.SUBACCOUNT_STORES)
def set_default_store(service: Authz, caller: keys.Caller, tenant: str, login: str,
                      store: str, reason: str | None = None) -> tuple[int, dict]:
    """Its default store, one of its stores (R15)."""
    def change(policy: TenantPolicy) -> None:
        S.set_default_store(policy, login, store)

    return service.commit(caller, tenant, reason, _viewed(login, change),
                          use_case=rights.SUBACCOUNT_STORES)


@operation(rights.SUBACCOUNT_DEPARTMENTS)
def set_departments(service: Authz, caller: keys.Caller, tenant: str, login: str,
                    departments: Sequence[str], reason: str | None = None
                    ) -> tuple[int, None]:
    """Exactly these departments; it holds their grants (R5)."""
    wanted = set(departments)

    def change(policy: TenantPolicy) -> None:
        current = set(S.departments_of(policy, login))
        for dept in sorted(wanted - current):
            A.add_member(policy, dept, login)
        for dept in sorted(current - wanted):
            A.remove_member(policy, dept, login)

    return service.commit(caller, tenant, reason, change,
                          use_case=rights.SUBACCOUNT_DEPARTMENTS)


@operation(rights.SUBACCOUNT_DEPARTMENTS)
def join(service: Authz, caller: keys.Caller, tenant: str, login: str, department: str,
         reason: str | None = None) -> tuple[int, None]:
    """Add it to a department (R5)."""
    return service.commit(caller, tenant, reason,
                          lambda policy: A.add_member(policy, department, login),
                          use_case=rights.SUBACCOUNT_DEPARTMENTS)


@operation(rights.SUBACCOUNT_DEPARTMENTS)
def leave(service: Authz, caller: keys.Caller, tenant: str, login: str, department: str,
          reason: str | None = None) -> tuple[int, None]:
    """Take it out of a department (R5)."""
    return service.commit(caller, tenant, reason,
                          lambda policy: A.remove_member(policy, department, login),
                          use_case=rights.SUBACCOUNT_DEPARTMENTS)
