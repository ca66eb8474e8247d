"""The rules of SUBACCOUNT_RULES.md as unit tests: the owner calls the named use cases (the
ones the API and the console call) over the in-memory store, and the assertion is what a
worker that loads the tenant then answers. The HTTP contract of the same routes (status
codes, error bodies) is tests/api/test_subaccount_rules.py's."""

from __future__ import annotations

import pytest

from service.domain import policy_admin as A
from service.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.usecases import policy_edits as P
from service.usecases import subaccounts as U
from service.usecases import tenant_admin

from .memory import Memory, admin, auditor, checker, owner

OWNER = owner()
ADMIN_CALLER = admin()


@pytest.fixture
def m() -> Memory:
    return Memory()


def _new(m: Memory, login: str, stores, **kw) -> dict:
    profile = {"display_name": login.title(), "email": f"{login}@example.com"}
    return U.create(m.service, OWNER, "acme", login, stores, profile, **kw)[1]


def user(login: str) -> A.Grantee:
    return A.Grantee("user", login)


def dept(name: str) -> A.Grantee:
    return A.Grantee("dept", name)


def test_r1_one_tenants_owner_cannot_act_in_another(m):
    with pytest.raises(Forbidden):
        U.set_disabled(m.service, owner("globex"), "acme", "alice", True)
    with pytest.raises(NotFound):  # acme's store does not exist in globex
        _ = U.create(m.service, owner("globex"), "globex", "spy", ["tmall-flagship"],
                     {"display_name": "Spy", "email": "s@example.com"})
    assert not m.allows("globex", "owner", "tmall-flagship", "orders:view")
    assert m.allows("acme", "alice", "amazon-us", "orders:view")


def test_r2_a_store_is_unique_per_tenant(m):
    P.create_store(m.service, OWNER, "acme", "lazada-my")
    with pytest.raises(Conflict):
        P.create_store(m.service, OWNER, "acme", "lazada-my")
    P.create_store(m.service, owner("globex"), "globex", "lazada-my")  # another tenant's own


def test_r3_the_owner_holds_everything_and_cannot_lose_it(m):
    P.create_store(m.service, OWNER, "acme", "new-store")
    assert m.allows("acme", "owner", "new-store", "finance:withdraw")
    for attempt in (lambda: U.set_disabled(m.service, OWNER, "acme", "owner", True),
                    lambda: P.add_direct(m.service, OWNER, "acme", user("owner"), "all",
                                         "orders:view", "deny"),
                    lambda: U.join(m.service, OWNER, "acme", "customer-care", "owner")):
        head = m.store.head("acme")
        with pytest.raises((InvalidInput, NotFound, Conflict)):
            attempt()
        assert m.store.head("acme") == head
    assert m.allows("acme", "owner", "amazon-us", "orders:view")


def test_r4_profiles_and_contacts_unique_across_tenants(m):
    created = _new(m, "mia", ["amazon-us", "shopee-sg"])
    assert created["status"] == "active" and created["default_store"] == "amazon-us"
    U.update_profile(m.service, OWNER, "acme", "mia", {"email": "Mia@Acme.test"})
    with pytest.raises(Conflict, match="email"):  # another tenant's account, any case
        U.create(m.service, owner("globex"), "globex", "mia2", ["ebay-de"],
                 {"display_name": "M", "email": "mia@acme.TEST"})
    with pytest.raises(Conflict, match="email"):  # one of its own
        U.update_profile(m.service, OWNER, "acme", "alice", {"email": "MIA@acme.test"})
    assert m.store.read("acme").directory.accounts["mia"].email == "Mia@Acme.test"


def test_r5_a_department_grant_applies_to_every_member(m):
    P.create_department(m.service, OWNER, "acme", "ops", "Ops")
    _new(m, "nia", ["tmall-flagship"], departments=["ops"])
    _new(m, "omar", ["tmall-flagship"])
    P.grant_role(m.service, OWNER, "acme", dept("ops"), "warehouse", ["tmall-flagship"])
    assert m.allows("acme", "nia", "tmall-flagship", "orders:ship")
    assert not m.allows("acme", "omar", "tmall-flagship", "orders:ship")
    U.join(m.service, OWNER, "acme", "ops", "omar")
    assert m.allows("acme", "omar", "tmall-flagship", "orders:ship")
    U.leave(m.service, OWNER, "acme", "ops", "omar")
    assert not m.allows("acme", "omar", "tmall-flagship", "orders:ship")


def test_r6_a_template_edit_changes_every_store_at_once(m):
    _new(m, "pat", ["amazon-us", "shopee-sg"],
         roles=[{"role": "designer", "stores": "all"}])
    assert m.allows("acme", "pat", "shopee-sg", "products:edit")
    assert not m.allows("acme", "pat", "tmall-flagship", "products:edit")  # not its store
    P.set_role_permissions(m.service, OWNER, "acme", "designer", ["products:view"])
    assert not any(m.allows("acme", "pat", s, "products:edit")
                   for s in ("amazon-us", "shopee-sg"))
    assert m.allows("acme", "pat", "amazon-us", "products:view")


def test_r7_r8_a_supplementary_permission_adds_and_a_deny_wins(m):
    assert not m.allows("acme", "frank", "amazon-us", "refunds:approve")
    P.add_direct(m.service, OWNER, "acme", user("frank"), "amazon-us", "refunds:approve",
                 "allow")
    assert m.allows("acme", "frank", "amazon-us", "refunds:approve")
    assert m.allows("acme", "frank", "amazon-us", "orders:ship")  # its role still applies
    assert m.allows("acme", "heidi", "tmall-flagship", "refunds:approve")
    P.add_direct(m.service, OWNER, "acme", user("heidi"), "tmall-flagship",
                 "refunds:approve", "deny")
    assert not m.allows("acme", "heidi", "tmall-flagship", "refunds:approve")
    P.add_direct(m.service, OWNER, "acme", dept("accounting"), "all", "finance:withdraw",
                 "deny")
    assert not m.allows("acme", "carol", "amazon-us", "finance:withdraw")
    P.remove_direct(m.service, OWNER, "acme", dept("accounting"), "all", "finance:withdraw",
                    "deny")
    assert m.allows("acme", "carol", "amazon-us", "finance:withdraw")


@pytest.mark.parametrize("attempt", [
    lambda m: P.create_role(m.service, OWNER, "acme", "x", ["orders:teleport"]),
    lambda m: P.add_direct(m.service, OWNER, "acme", user("frank"), "amazon-us",
                           "orders:teleport", "allow"),
    lambda m: P.add_direct(m.service, OWNER, "acme", user("frank"), "all", "teleport", "deny"),
])
def test_r9_names_outside_the_catalogue_are_refused(m, attempt):
    with pytest.raises(InvalidInput, match="catalogue"):
        attempt(m)
    assert m.store.head("acme") == 1


def test_r10_step_up_asks_a_second_factor_for_high_risk(m):
    tenant_admin.update_settings(m.service, OWNER, "acme", {"step_up": True})
    assert not m.allows("acme", "carol", "amazon-us", "finance:withdraw")
    assert m.allows("acme", "carol", "amazon-us", "finance:withdraw", second_factor=True)
    assert m.allows("acme", "carol", "amazon-us", "finance:view")  # not high-risk
    tenant_admin.update_settings(m.service, OWNER, "acme", {"step_up": False})
    assert m.allows("acme", "carol", "amazon-us", "finance:withdraw")


def test_r11_the_cap_is_the_platforms_and_refuses_one_more(m):
    with pytest.raises(Forbidden):
        tenant_admin.update_settings(m.service, OWNER, "acme", {"max_sub_accounts": 500})
    count = len(m.store.read("acme").directory.accounts)
    tenant_admin.update_settings(m.service, ADMIN_CALLER, "acme", {"max_sub_accounts": count + 1})
    _new(m, "last", ["amazon-us"])
    with pytest.raises(Conflict, match=f"at most {count + 1}"):
        _new(m, "one-more", ["amazon-us"])
    assert "one-more" not in m.store.read("acme").directory.accounts


def test_r12_disabled_is_denied_everything_and_keeps_its_grants(m):
    assert m.allows("acme", "dave", "amazon-us", "prices:change")
    U.set_disabled(m.service, OWNER, "acme", "dave", True, reason="on leave")
    assert not m.allows("acme", "dave", "amazon-us", "prices:change")
    assert m.answer("acme", "dave", "amazon-us", "prices:change") == "disabled"
    U.set_disabled(m.service, OWNER, "acme", "dave", False)
    assert m.allows("acme", "dave", "amazon-us", "prices:change")


def test_r13_owner_only_powers_are_never_grantable(m):
    for attempt in (
        lambda: P.create_role(m.service, OWNER, "acme", "hr", ["staff:manage"]),
        lambda: P.set_role_permissions(m.service, OWNER, "acme", "store-manager",
                                       ["billing:purchase"]),
        lambda: P.add_direct(m.service, OWNER, "acme", user("heidi"), "tmall-flagship",
                             "staff:set-default-store", "allow"),
    ):
        with pytest.raises(InvalidInput, match="owner-only"):
            attempt()
    for key in (checker(), auditor()):  # sub-account management is the owner key's
        with pytest.raises(Forbidden):
            _ = U.create(m.service, key, "acme", "x", ["amazon-us"],
                         {"display_name": "x", "email": "x@example.com"})
    assert m.store.head("acme") == 1


def test_r14_batch_assignment_in_three_modes_all_or_nothing(m):
    for login in ("ra", "rb"):
        _new(m, login, ["amazon-us"], roles=[{"role": "warehouse", "stores": "all"}])
    P.batch_assign(m.service, OWNER, "acme", "add", ["ra", "rb"], ["shopee-sg"])
    assert m.allows("acme", "rb", "shopee-sg", "orders:ship")
    P.batch_assign(m.service, OWNER, "acme", "remove", ["ra", "rb"], ["amazon-us"])
    assert not m.allows("acme", "ra", "amazon-us", "orders:ship")
    P.batch_assign(m.service, OWNER, "acme", "reset", ["ra"], ["tmall-flagship", "amazon-us"])
    assert A.assigned_stores(m.store.read("acme"), "ra") == ["tmall-flagship", "amazon-us"]
    head = m.store.head("acme")
    with pytest.raises(NotFound) as refused:
        P.batch_assign(m.service, OWNER, "acme", "add", ["ra", "ghost", "rb", "phantom"],
                       ["amazon-us", "nowhere"])
    assert refused.value.errors == {
        "subjects": ["no such sub-account: ghost", "no such sub-account: phantom"],
        "stores": ["no such store: nowhere"]}
    assert m.store.head("acme") == head


def test_r15_the_default_store_is_always_an_assigned_one(m):
    _new(m, "sam", ["shopee-sg", "amazon-us"])
    with pytest.raises(InvalidInput):
        U.set_default_store(m.service, OWNER, "acme", "sam", "tmall-flagship")
    U.set_default_store(m.service, OWNER, "acme", "sam", "amazon-us")
    P.batch_assign(m.service, OWNER, "acme", "add", ["sam"], ["tmall-flagship"])
    _, report = P.batch_assign(m.service, OWNER, "acme", "remove", ["sam"], ["amazon-us"])
    assert report["default_store_changed"] == {"sam": "shopee-sg"}
    assert m.store.read("acme").directory.accounts["sam"].default_store == "shopee-sg"


def test_r16_revoking_a_store_removes_everything_in_it(m):
    _new(m, "tia", ["shopee-sg", "amazon-us"])
    _new(m, "uma", ["shopee-sg"], roles=[{"role": "operator", "stores": ["shopee-sg"]}])
    assert m.allows("acme", "bob", "shopee-sg", "refunds:approve")
    _, report = P.revoke_store(m.service, OWNER, "acme", "shopee-sg")
    assert report["default_store_changed"] == {"tia": "amazon-us"}
    assert set(report["disabled"]) == {"bob", "uma"}  # ivan was disabled already
    assert not any("shopee-sg" in str(r) for r in m.store.read("acme").rules())
    assert not m.allows("acme", "owner", "shopee-sg", "orders:view")
    P.create_store(m.service, OWNER, "acme", "shopee-sg")  # the same id later brings nothing
    assert not m.allows("acme", "bob", "shopee-sg", "refunds:approve")


def test_r17_per_product_operators(m):
    P.grant_role(m.service, OWNER, "acme", user("erin"), "designer", ["amazon-us"])
    assert m.allows("acme", "erin", "amazon-us", "products:edit", product="sku-1")
    P.set_store_mode(m.service, OWNER, "acme", "amazon-us", "by-product")
    assert not m.allows("acme", "erin", "amazon-us", "products:edit", product="sku-1")
    assert m.allows("acme", "owner", "amazon-us", "products:delete", product="sku-1")
    P.add_product_operator(m.service, OWNER, "acme", "amazon-us", "sku-1", "erin")
    assert m.allows("acme", "erin", "amazon-us", "products:edit", product="sku-1")
    assert not m.allows("acme", "erin", "amazon-us", "products:edit", product="sku-2")
    P.add_product_operator(m.service, OWNER, "acme", "amazon-us", "sku-1", "frank")
    assert not m.allows("acme", "frank", "amazon-us", "products:edit", product="sku-1")
    P.set_store_mode(m.service, OWNER, "acme", "amazon-us", "by-store")
    assert m.allows("acme", "erin", "amazon-us", "products:edit", product="sku-2")


def test_every_owner_edit_is_one_revision_named_by_its_use_case(m):
    U.set_disabled(m.service, OWNER, "acme", "alice", True, reason="left")
    P.create_store(m.service, OWNER, "acme", "lazada-my")
    U.set_stores(m.service, OWNER, "acme", "bob", ["lazada-my"])
    entries = m.store.ledger("acme")
    assert [e.revision for e in entries] == [1, 2, 3, 4]
    assert [e.details.get("use_case") for e in entries[1:]] == [
        "subaccount.status", "store.create", "subaccount.stores"]


def test_a_preview_answers_and_writes_nothing(m):
    _, report = P.revoke_store.preview(m.service, OWNER, "acme", "shopee-sg")
    assert "bob" in report["disabled"]
    assert m.store.head("acme") == 1
    assert m.allows("acme", "bob", "shopee-sg", "refunds:approve")
