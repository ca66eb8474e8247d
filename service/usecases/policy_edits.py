"""The owner's edits of stores, roles, grants and departments (R1-R3, R5-R8, R16, R17,
R22): one named use case per edit, the one the API and the console both call, each its
own row in the rights table and named in its ledger entry (`details.use_case`). Each is
one write of the edit of domain/policy_admin.py or domain/subaccounts.py that it names,
and answers (revision, what that edit returned)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain import keys
from ..domain import policy_admin as A
from ..domain import subaccounts as S
from . import rights
from .authz import Authz
from .rights import operation


def _named(right: str, edit: Callable[..., Any]) -> Callable[..., tuple[int, Any]]:
    """The use case of `edit` (a domain edit: policy first, then its own arguments),
    checked against `right`, its row in the rights table, and named by it in the ledger."""
    @operation(right)
    def use_case(service: Authz, caller: keys.Caller, tenant: str, *args: Any,
                 reason: str | None = None, **kwargs: Any) -> tuple[int, Any]:
        # (checked against `right` above: commit, not write, which would check again)
        return service.commit(caller, tenant, reason,
                              lambda policy: edit(policy, *args, **kwargs), use_case=right)

    def preview(service: Authz, caller: keys.Caller, tenant: str, *args: Any,
                **kwargs: Any) -> tuple[int, Any]:
        """What the use case would answer, nothing written (Authz.preview's own row)."""
        return service.preview(caller, tenant, lambda policy: edit(policy, *args, **kwargs))

    use_case.__name__ = use_case.__qualname__ = edit.__name__
    use_case.__doc__ = edit.__doc__
    use_case.__module__ = __name__
    use_case.preview = preview  # type: ignore[attr-defined]
    return use_case


# stores (R1, R16, R17, R22)
create_store = _named(rights.STORE_CREATE, A.create_store)
set_currency = _named(rights.STORE_CURRENCY, A.set_currency)
revoke_store = _named(rights.STORE_REVOKE, S.revoke_store)
set_store_mode = _named(rights.STORE_MODE, S.run_store)
batch_assign = _named(rights.BATCH_STORES, S.batch_assign)
add_product_operator = _named(rights.PRODUCT_OPERATORS, S.add_product_operator)
remove_product_operator = _named(rights.PRODUCT_OPERATORS, S.remove_product_operator)
# role templates (R6, R22)
create_role = _named(rights.ROLE_CREATE, A.create_role)
set_role_permissions = _named(rights.ROLE_PERMISSIONS, A.set_role_permissions)
delete_role = _named(rights.ROLE_DELETE, A.delete_role)
# grants: roles, supplementary permissions and denies (R5-R8)
grant_role = _named(rights.GRANT_ROLE, A.grant_role)
revoke_role = _named(rights.REVOKE_ROLE, A.revoke_role)
add_direct = _named(rights.DIRECT_ADD, A.add_direct)
remove_direct = _named(rights.DIRECT_REMOVE, A.remove_direct)
# departments (R5)
create_department = _named(rights.DEPARTMENT_CREATE, S.create_department)
rename_department = _named(rights.DEPARTMENT_RENAME, S.rename_department)
