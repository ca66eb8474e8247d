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
from .named import named as _named
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


@operation(rights.SUBACCOUNT_STORES)
def set_default_store(service: Authz, caller: keys.Caller, tenant: str, login: str,
                      store: str, reason: str | None = None) -> tuple[int, dict]:
    """Its default store, one of its stores (R15)."""
    def change(policy: TenantPolicy) -> None:
        S.set_default_store(policy, login, store)

    return service.commit(caller, tenant, reason, _viewed(login, change),
                          use_case=rights.SUBACCOUNT_STORES)


# the edits whose answer is the domain edit's own (nothing, or the stores' report)
set_disabled = _named(__name__, rights.SUBACCOUNT_STATUS, A.set_disabled)
set_stores = _named(__name__, rights.SUBACCOUNT_STORES, S.set_stores)
set_departments = _named(__name__, rights.SUBACCOUNT_DEPARTMENTS, S.set_departments)
join = _named(__name__, rights.SUBACCOUNT_DEPARTMENTS, A.add_member)
leave = _named(__name__, rights.SUBACCOUNT_DEPARTMENTS, A.remove_member)
