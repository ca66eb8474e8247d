"""A named use case made of a domain edit: checked against its own row in the rights table,
written as one revision named by that row in its ledger entry, with a dry run of its own
(usecases/subaccounts.py, usecases/policy_edits.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain import keys
from .authz import Authz
from .rights import operation


def named(module: str, right: str, edit: Callable[..., Any]) -> Callable[..., tuple[int, Any]]:
    """The use case of `edit` (a domain edit: policy first, then its own arguments),
    checked against `right`, its row in the rights table, and named by it in the ledger;
    a function of `module` (the use case module that names it)."""
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
    use_case.__module__ = module
    use_case.preview = preview  # type: ignore[attr-defined]
    return use_case
