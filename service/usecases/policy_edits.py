"""The owner's edits of stores, roles, grants and departments (R1-R3, R5-R8, R16, R17,
R22): one named use case per edit, the one the API and the console both call, each its
own row in the rights table and named in its ledger entry (`details.use_case`). Each is
one write of the edit of domain/policy_admin.py or domain/subaccounts.py that it names,
and answers (revision, what that edit returned)."""

from __future__ import annotations

from ..domain import policy_admin as A
from ..domain import subaccounts as S
from . import rights
from .named import named as _named

# stores (R1, R16, R17, R22)
create_store = _named(__name__, rights.STORE_CREATE, A.create_store)
set_currency = _named(__name__, rights.STORE_CURRENCY, A.set_currency)
revoke_store = _named(__name__, rights.STORE_REVOKE, S.revoke_store)
set_store_mode = _named(__name__, rights.STORE_MODE, S.run_store)
batch_assign = _named(__name__, rights.BATCH_STORES, S.batch_assign)
add_product_operator = _named(__name__, rights.PRODUCT_OPERATORS, S.add_product_operator)
remove_product_operator = _named(__name__, rights.PRODUCT_OPERATORS, S.remove_product_operator)
# role templates (R6, R22)
create_role = _named(__name__, rights.ROLE_CREATE, A.create_role)
set_role_permissions = _named(__name__, rights.ROLE_PERMISSIONS, A.set_role_permissions)
delete_role = _named(__name__, rights.ROLE_DELETE, A.delete_role)
# grants: roles, supplementary permissions and denies (R5-R8)
grant_role = _named(__name__, rights.GRANT_ROLE, A.grant_role)
revoke_role = _named(__name__, rights.REVOKE_ROLE, A.revoke_role)
add_direct = _named(__name__, rights.DIRECT_ADD, A.add_direct)
remove_direct = _named(__name__, rights.DIRECT_REMOVE, A.remove_direct)
# departments (R5)
create_department = _named(__name__, rights.DEPARTMENT_CREATE, S.create_department)
rename_department = _named(__name__, rights.DEPARTMENT_RENAME, S.rename_department)
