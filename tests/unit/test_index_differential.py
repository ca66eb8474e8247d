"""The fast path equals plain pycasbin: the compiled index against `enforce` over
policies/model.conf, on random policies of every rule shape (>= 10,000 requests)."""

from __future__ import annotations

import random
from decimal import Decimal

import casbin

from harness.policies import MONEY, random_requests, random_tenant
from service.domain import rules as R
from service.domain.decider import SECOND_FACTOR_PASSED
from service.domain.index import TenantIndex
from service.domain.rules import Kind

from ..support import ROOT

MODEL = str(ROOT / "policies" / "model.conf")


def oracle_for(rules) -> casbin.Enforcer:
    enforcer = casbin.Enforcer(MODEL)
    for rule in rules:
        if rule.ptype == "p":
            enforcer.add_named_policy(rule.ptype, *rule.values)
        else:
            enforcer.add_named_grouping_policy(rule.ptype, *rule.values)
    return enforcer


def test_index_equals_pycasbin_on_random_policies():
    rng = random.Random(20261122)
    compared = allowed = with_amounts = allowed_amounts = with_approval = allowed_approval = 0
    codes: dict[str, int] = {}
    for policy_number in range(60):
        tenant = random_tenant(rng, f"t{policy_number}")
        # Built the way a worker keeps it: incrementally, through adds and removes of
        # another policy's rules, ending at this one.
        other = set(random_tenant(rng, tenant.tenant).rules)
        index = TenantIndex(tenant.tenant, sorted(other))
        for rule in tenant.rules:
            index.add(rule)
        for rule in sorted(other - set(tenant.rules)):
            index.remove(rule)
        assert index.rules() == set(tenant.rules)
        oracle = oracle_for(tenant.rules)
        for request in random_requests(rng, tenant, 180):
            user, store, area, action, mfa, product, amount, approval = request
            expected = oracle.enforce(user, store, area, action,
                                      SECOND_FACTOR_PASSED if mfa else "", product, amount,
                                      approval)
            code = index.answer(*request)
            assert (code == "granted") == expected, (tenant.rules, request, code)
            compared += 1
            allowed += expected
            codes[code] = codes.get(code, 0) + 1
            if amount and (area, action) in MONEY:
                with_amounts += 1
                allowed_amounts += expected
            if approval:
                with_approval += 1
                allowed_approval += expected
    assert compared >= 10_000
    assert compared * 0.05 < allowed < compared * 0.95  # both answers well represented
    # Limits and approvals were exercised both ways, and every model code was reached.
    assert with_amounts * 0.05 < allowed_amounts < with_amounts * 0.95, allowed_amounts
    assert with_approval * 0.01 < allowed_approval < with_approval, allowed_approval
    assert {"granted", "no_grant", "not_assigned", "explicit_deny", "disabled",
            "step_up_required", "not_product_operator", "limit_exceeded", "amount_required",
            "approval_required", "approval_not_valid"} <= codes.keys(), codes


def test_index_changed_between_decisions_equals_one_built_fresh():
    """A worker decides between writes, so what the index works out on first use (a
    subject's permissions per scope) is in place when a grant, a membership or a role's
    permissions change: after every few changes it must answer as an index built from
    scratch on the same rules (itself held to pycasbin above), and pycasbin at the end."""
    rng = random.Random(11)
    compared = 0
    for policy_number in range(40):
        tenant = random_tenant(rng, f"t{policy_number}")
        target, held = set(tenant.rules), set(random_tenant(rng, tenant.tenant).rules)
        index = TenantIndex(tenant.tenant, sorted(held))
        asked = list(random_requests(rng, tenant, 60))
        changes = sorted((rule, True) for rule in target - held)
        changes += sorted((rule, False) for rule in held - target)
        rng.shuffle(changes)
        # An approval's rules go before another's of the same id come: never two grants or
        # two sub-accounts for one approval, a state the invariants never let be written.
        changes.sort(key=lambda change: change[1] or R.classify(change[0]) not in (
            Kind.APPROVAL, Kind.APPROVAL_SUBJECT))
        for step, (rule, add) in enumerate(changes):
            if step % 4 == 0:
                fresh = TenantIndex(tenant.tenant, sorted(held))
                for request in rng.sample(asked, 12):
                    assert index.decide(*request) == fresh.decide(*request), (rule, request)
                    compared += 1
            (index.add if add else index.remove)(rule)
            (held.add if add else held.discard)(rule)
        assert index.rules() == target
        oracle = oracle_for(tenant.rules)
        for user, store, area, action, mfa, product, amount, approval in asked:
            assert index.decide(user, store, area, action, mfa, product, amount,
                                approval) == oracle.enforce(
                user, store, area, action, SECOND_FACTOR_PASSED if mfa else "", product,
                amount, approval)
            compared += 1
    assert compared >= 4_000


def test_explain_agrees_with_the_decision_and_names_real_rules():
    from service.domain.explain import explain

    rng = random.Random(7)
    compared = 0
    for policy_number in range(30):
        tenant = random_tenant(rng, f"t{policy_number}")
        index = TenantIndex(tenant.tenant, tenant.rules)
        held = {rule.csv() for rule in tenant.rules}
        for request in random_requests(rng, tenant, 150):
            user, store, area, action, mfa, product, amount, approval = request
            subject = user.split(":", 2)[2]
            store_name = store.split("/", 1)[1] if "/" in store else store
            if (f"user:{tenant.tenant}:{subject}" != user
                    or f"{tenant.tenant}/{store_name}" != store):
                continue  # another tenant's names: explain takes this tenant's names
            approval_id = approval.rsplit(":", 1)[1] if approval else ""
            got = explain(index, tenant.tenant, subject, store_name, area, action, mfa,
                          product, amount, approval_id)
            assert got.allowed == index.decide(*request)
            assert got.reason == index.answer(*request)
            assert got.allowed == (not got.denies and bool(got.allows))
            for path in got.denies + got.allows:
                assert set(path.rules) <= held, path  # every rule shown is in the policy
            compared += 1
    assert compared >= 2_000


def test_the_decider_is_pycasbin_and_apps_not_installed_are_denied_to_everyone():
    """R21: an app permission in a tenant that has not installed the app is a deny, the
    owner's included, in the decider as in stock pycasbin (the owner's `*` rule matches no
    app's area; its `<app>.*` rule only an installed app's)."""
    from service.domain.decider import Decider

    rng = random.Random(21)
    compared = refused = 0
    for policy_number in range(40):
        tenant = random_tenant(rng, f"t{policy_number}")
        decider = Decider()
        decider.load(tenant.tenant, 1, [(r.ptype, r.values) for r in tenant.rules])
        installed = any(r.ptype == "g2" and r.values[0].startswith("app:")
                        for r in tenant.rules)
        oracle = oracle_for(tenant.rules)
        for user, store, area, action, mfa, product, amount, approval in random_requests(
                rng, tenant, 120):
            if not user.startswith(f"user:{tenant.tenant}:") or "/" not in store:
                continue
            request = (tenant.tenant, user.split(":", 2)[2], store.split("/", 1)[1], area,
                       action, mfa, product, amount,
                       approval.rsplit(":", 1)[1] if approval else "")
            expected = oracle.enforce(user, store, area, action,
                                      SECOND_FACTOR_PASSED if mfa else "", product, amount,
                                      approval)
            if "." in area and not installed and user == f"user:{tenant.tenant}:owner":
                refused += 1
                assert expected is False, request
            assert [a == "granted" for a in decider.answer_many([request])] == [expected], \
                request
            compared += 1
    assert compared >= 3_000 and refused > 0


def _allowed(decider, *fields) -> bool:
    from service.domain.decider import CheckRequest

    return decider.answer_many([CheckRequest(*fields)]) == ["granted"]


def test_permissions_of_a_subject_are_exactly_those_check_allows():
    """What can this user do here (R21): the list equals asking /check's decider about
    every permission of the catalogue (the owner's included, and apps not installed)."""
    from harness.policies import CATALOGUE
    from service.domain.decider import Decider

    rng = random.Random(5)
    everything = [(p.area, p.action) for p in CATALOGUE.permissions]
    listed = limited = 0
    for policy_number in range(40):
        tenant = random_tenant(rng, f"t{policy_number}")
        decider = Decider()
        decider.load(tenant.tenant, 1, [(r.ptype, r.values) for r in tenant.rules])
        for subject in tenant.logins:
            for store in tenant.stores:
                for mfa in (False, True):
                    expected = sorted(p for p in everything if _allowed(
                        decider, tenant.tenant, subject, store, *p, mfa))
                    got = decider.permissions_of(tenant.tenant, subject, store, mfa,
                                                 lambda: everything)
                    assert got == expected, (subject, store, mfa)
                    listed += len(got)
                    # R22: and those allowed only up to a limit, with the highest one
                    limits = decider.limits_of(tenant.tenant, subject, store, mfa, got)
                    for area, action in MONEY:
                        limit = limits.get((area, action))
                        top = _allowed(decider, tenant.tenant, subject, store, area, action,
                                       mfa, "", "999999999999.99")
                        if (area, action) in got:
                            assert limit is None
                        elif limit is None:
                            assert not top  # no amount at all is allowed
                        else:
                            above = f"{Decimal(limit) + Decimal('0.01'):015.2f}"
                            assert _allowed(decider, tenant.tenant, subject, store, area,
                                            action, mfa, "", limit)
                            assert not _allowed(decider, tenant.tenant, subject, store,
                                                area, action, mfa, "", above)
                            limited += 1
    assert listed > 1_000 and limited > 50, limited
