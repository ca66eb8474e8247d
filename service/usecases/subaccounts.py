"""A sub-account's edits (R4, R5, R12, R14, R15): one named use case per edit, the one the
API and the console both call, each its own row in the rights table and named in its
ledger entry (`details.use_case`). Each is one write; each answers (revision, what the
API shows of it): the sub-account as it then is where the API shows it (a view reads
the tenant's grants, so the others do not build one)."""

from __future__ import annotations

from collections.abc import Callable

from ..domain import policy_admin as A
from ..domain import subaccounts as S
from ..domain.tenant_policy import TenantPolicy
from . import rights
from .named import named as _named


def _answering_the_account(change: Callable[..., object]) -> Callable[..., dict]:
    """A domain edit of one sub-account (policy, login, ...), answering the sub-account
    as it then is (a view reads the tenant's grants: the other edits do not build one)."""
    def edit(policy: TenantPolicy, login: str, *args, **kwargs) -> dict:
        change(policy, login, *args, **kwargs)
        return S.view(policy, login)

    edit.__name__, edit.__doc__ = change.__name__, change.__doc__
    return edit


# the edits that answer the sub-account as it then is
create = _named(__name__, rights.SUBACCOUNT_CREATE,
                _answering_the_account(S.create_sub_account))
update_profile = _named(__name__, rights.SUBACCOUNT_PROFILE,
                        _answering_the_account(S.update_profile))
set_default_store = _named(__name__, rights.SUBACCOUNT_STORES,
                           _answering_the_account(S.set_default_store))

# the edits whose answer is the domain edit's own (nothing, or the stores' report)
set_disabled = _named(__name__, rights.SUBACCOUNT_STATUS, A.set_disabled)
set_stores = _named(__name__, rights.SUBACCOUNT_STORES, S.set_stores)
set_departments = _named(__name__, rights.SUBACCOUNT_DEPARTMENTS, S.set_departments)
join = _named(__name__, rights.SUBACCOUNT_DEPARTMENTS, A.add_member)
leave = _named(__name__, rights.SUBACCOUNT_DEPARTMENTS, A.remove_member)
