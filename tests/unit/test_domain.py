"""The domain rules called directly on a TenantPolicy: no database, no HTTP (the API tests
show the same rules through the routes)."""

from __future__ import annotations

import pytest

from service.domain import invariants
from service.domain import policy_admin as A
from service.domain import subaccounts as S
from service.domain.accounts import Directory
from service.domain.errors import Conflict, InvalidInput, LimitReached, NotFound
from service.domain.index import TenantIndex
from service.domain.rules import Rule
from service.domain.tenant_policy import TenantPolicy

T = "shop"


@pytest.fixture
def policy() -> TenantPolicy:
    p = TenantPolicy(T, (), Directory())
    S.create_tenant(p)
    for store in ("s1", "s2"):
        A.create_store(p, store)
    S.create_sub_account(p, "ann", ["s1", "s2"], {"display_name": "Ann"})
    S.create_sub_account(p, "ben", ["s2"])
    return p


def _allowed(p: TenantPolicy, login: str, store: str, permission: str, mfa=False) -> bool:
    area, action = permission.split(":")
    return TenantIndex(T, p.rules()).decide(f"user:{T}:{login}", f"{T}/{store}", area, action,
                                           mfa, "")


def test_r3_the_owner_holds_everything_in_every_store(policy):
    assert _allowed(policy, "owner", "s1", "billing:purchase")
    assert Rule("g", (f"user:{T}:owner", f"{T}/s2")) in policy


def test_r6_a_role_granted_in_one_store_or_everywhere(policy):
    A.grant_role(policy, A.grantee("ann", None), "warehouse", ["s1"])
    assert _allowed(policy, "ann", "s1", "orders:ship")
    assert not _allowed(policy, "ann", "s2", "orders:ship")
    A.grant_role(policy, A.grantee("ben", None), "warehouse", "all")
    assert _allowed(policy, "ben", "s2", "orders:ship")


def test_r6_a_granted_role_cannot_be_deleted(policy):
    A.grant_role(policy, A.grantee("ann", None), "finance", "all")
    with pytest.raises(Conflict):
        A.delete_role(policy, "finance")


def test_r8_a_deny_wins_over_a_grant(policy):
    A.grant_role(policy, A.grantee("ann", None), "finance", "all")
    A.add_direct(policy, A.grantee("ann", None), "all", "finance:withdraw", "deny")
    assert not _allowed(policy, "ann", "s1", "finance:withdraw")
    assert _allowed(policy, "ann", "s1", "finance:view")


def test_r10_step_up_needs_a_second_factor_for_high_risk_only(policy):
    A.grant_role(policy, A.grantee("ann", None), "finance", "all")
    S.set_step_up(policy, True)
    assert not _allowed(policy, "ann", "s1", "refunds:approve")
    assert _allowed(policy, "ann", "s1", "refunds:approve", mfa=True)
    assert _allowed(policy, "ann", "s1", "finance:view")


def test_r11_the_cap_refuses_the_next_sub_account(policy):
    S.set_max_sub_accounts(policy, 2)
    with pytest.raises(LimitReached):
        S.create_sub_account(policy, "cat", ["s1"])


def test_r12_disabled_denies_everything_and_keeps_grants(policy):
    A.grant_role(policy, A.grantee("ann", None), "finance", "all")
    A.set_disabled(policy, "ann", True)
    assert not _allowed(policy, "ann", "s1", "finance:view")
    A.set_disabled(policy, "ann", False)
    assert _allowed(policy, "ann", "s1", "finance:view")


def test_r13_owner_only_permissions_are_never_grantable(policy):
    with pytest.raises(InvalidInput):
        A.create_role(policy, "sneaky", ["staff:manage"])
    with pytest.raises(InvalidInput):
        A.add_direct(policy, A.grantee("ann", None), "s1", "billing:purchase", "allow")


def test_r14_batch_assignment_is_all_or_nothing_and_names_every_unknown(policy):
    before = policy.rules()
    with pytest.raises(NotFound) as refused:
        S.batch_assign(policy, "add", ["ann", "zed"], ["s1", "s9"])
    assert "zed" in str(refused.value.errors) and "s9" in str(refused.value.errors)
    assert policy.rules() == before


def test_r15_the_default_store_moves_and_a_sub_account_left_without_any_is_disabled(policy):
    assert policy.directory.accounts["ann"].default_store == "s1"
    report = S.set_stores(policy, "ann", ["s2"])
    assert policy.directory.accounts["ann"].default_store == "s2"
    assert report["default_store_changed"] == {"ann": "s2"}
    S.set_stores(policy, "ben", [])
    assert S.is_disabled(policy, "ben") and policy.directory.accounts["ben"].default_store is None


def test_r16_revoking_a_store_removes_everything_in_it(policy):
    A.grant_role(policy, A.grantee("ben", None), "warehouse", ["s2"])
    A.add_direct(policy, A.grantee("ann", None), "s2", "reports:export", "allow")
    report = S.revoke_store(policy, "s2")
    assert "s2" not in policy.stores()
    assert not [r for r in policy.rules() if any("s2" in v for v in r.values)]
    assert report["disabled"] == ["ben"] and report["default_store_changed"] == {}
    invariants.require(policy, Directory())  # what is left is a state the API may hold


def test_r17_by_product_stores_let_only_a_products_operators_edit_it(policy):
    A.grant_role(policy, A.grantee("ann", None), "operator", "all")
    S.set_store_mode(policy, "s1", "by-product")
    S.add_product_operator(policy, "s1", "sku-1", "ann")
    index = TenantIndex(T, policy.rules())
    ann = f"user:{T}:ann"
    assert index.decide(ann, f"{T}/s1", "products", "edit", False, "sku-1")
    assert not index.decide(ann, f"{T}/s1", "products", "edit", False, "sku-2")
    assert index.decide(f"user:{T}:owner", f"{T}/s1", "products", "edit", False, "sku-2")


def test_a_unit_of_work_stages_keys_and_the_tenant_row():
    p = TenantPolicy("new", (), Directory(), exists=False)
    p.create("New")
    key_id, token = p.keys.add("owner")
    assert token.startswith(key_id + ".")
    assert [k.key_id for k in p.keys.changes()] == [key_id]
    with pytest.raises(Conflict):
        p.create("again")
