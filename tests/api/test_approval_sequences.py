"""Random sequences of limits and approvals (R22-R24), checked after every step.

The defects of this kind show on the second operation - a use after a limit changed, a
decision after a mode changed, a second use - so a hypothesis state machine drives them,
each example in a tenant of its own. Steps: set the role's limit, give or take a
supplementary grant with or without a limit, set the approval mode, file a request, decide
one (the owner, an approver, the requester, someone without the right), use one, check.
A plain model says what each must answer. After every step:
  - /check/batch answers every (sub-account, store, amount) as the model says, reason and
    `requires` included, and as stock pycasbin says on the export;
  - every request the model knows answers /explain with its approval as the model says
    (without using it), and as pycasbin says;
  - each request's state is the model's.
"""

from __future__ import annotations

import os
from collections import Counter
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from service.domain import amounts

from ..support import ADMIN, Caller, replay

EXAMPLES = int(os.environ.get("AUTHZ_FUZZ_SEQUENCES", "10"))
STEPS = 25
SUBJECTS = ("s1", "s2")
STORES = ("amazon-us", "shopee-sg")
LIMITS = (None, "100.00", "250.00")  # None: no limit
AMOUNTS = ("50.00", "100.00", "100.01", "250.00", "400.00")
PERMISSION = "refunds:approve"
DONE: Counter = Counter()
COUNTER = iter(range(10**9))


class ApprovalSequences(RuleBasedStateMachine):
    client = None  # set by the test

    def __init__(self):
        super().__init__()
        admin = Caller(self.client, ADMIN)
        self.tenant = t = f"ap{next(COUNTER)}"
        status, body = admin("POST", "/v1/tenants", {"tenant": t})
        assert status == 201, body
        self.owner = Caller(self.client, body["owner_key"])
        self.check = Caller(self.client, body["check_key"])
        base = f"/v1/tenants/{t}"
        for store in STORES:
            self.ok(self.owner("POST", f"{base}/stores", {"store": store}))
        # (starting where approvals are asked for: over a limit, in mode over_limit)
        self.ok(self.owner("POST", f"{base}/roles", {"role": "refunder", "permissions": [
            PERMISSION, "refunds:view"], "limits": {PERMISSION: "100.00"}}))
        self.ok(self.owner("PUT", f"{base}/approval-modes/{PERMISSION}", {"mode": "over_limit"}))
        for login in (*SUBJECTS, "carol", "dave"):
            self.ok(self.owner("POST", f"{base}/subaccounts", {
                "login": login, "display_name": login, "email": f"{login}@{t}.example.com",
                "stores": list(STORES),
                "roles": [{"role": "refunder", "stores": "all"}] if login in SUBJECTS else []}))
        self.ok(self.owner("POST", f"{base}/permissions", {
            "subject": "carol", "store": "amazon-us", "permission": "approvals:decide"}))
        # the model
        self.role_limit: str | None = "100.00"
        self.direct: dict[tuple[str, str], str | None] = {}  # (subject, store) -> limit
        self.mode = "over_limit"
        self.approvals: dict[str, dict] = {}  # id -> subject, store, amount, state

    @staticmethod
    def ok(answer):
        status, body = answer
        assert status in (200, 201), (status, body)
        return body

    # -- the model -------------------------------------------------------------------------
    def expected(self, subject: str, store: str, amount: str | None) -> tuple[str, str | None]:
        """(reason, requires) for a check without an approval."""
        limits = [self.role_limit] + ([self.direct[(subject, store)]]
                                      if (subject, store) in self.direct else [])
        allowed = any(limit is None or (amount is not None and Decimal(amount) <= Decimal(limit))
                      for limit in limits)
        if allowed:
            if self.mode == "always":
                return "approval_required", "approval"
            return "granted", None
        if amount is None:
            return "amount_required", None
        return "limit_exceeded", "approval" if self.mode != "never" else None

    # -- steps -----------------------------------------------------------------------------
    @rule(limit=st.sampled_from(LIMITS))
    def set_role_limit(self, limit):
        self.ok(self.owner("PUT", f"/v1/tenants/{self.tenant}/roles/refunder", {
            "permissions": [PERMISSION, "refunds:view"],
            "limits": {PERMISSION: limit} if limit else {}}))
        self.role_limit = limit
        DONE["role limit"] += 1

    @rule(subject=st.sampled_from(SUBJECTS), store=st.sampled_from(STORES),
          limit=st.sampled_from(LIMITS + ("revoke",)))
    def set_direct(self, subject, store, limit):
        base = f"/v1/tenants/{self.tenant}/permissions"
        body = {"subject": subject, "store": store, "permission": PERMISSION}
        if limit == "revoke":
            status, answer = self.owner("POST", base + "/revoke", body)
            assert status == (200 if (subject, store) in self.direct else 404), answer
            self.direct.pop((subject, store), None)
        else:
            self.ok(self.owner("POST", base, {**body, **({"limit": limit} if limit else {})}))
            self.direct[(subject, store)] = limit
        DONE["direct grant"] += 1

    @rule(mode=st.sampled_from(("never", "over_limit", "always")))
    def set_mode(self, mode):
        self.ok(self.owner("PUT", f"/v1/tenants/{self.tenant}/approval-modes/{PERMISSION}",
                           {"mode": mode}))
        self.mode = mode

    @rule(subject=st.sampled_from(SUBJECTS), store=st.sampled_from(STORES),
          amount=st.sampled_from(AMOUNTS))
    def file(self, subject, store, amount):
        status, body = self.check("POST", f"/v1/tenants/{self.tenant}/approvals", {
            "subject": subject, "store": store, "permission": PERMISSION, "amount": amount})
        reason, requires = self.expected(subject, store, amount)
        if requires == "approval":
            assert status == 201 and body["state"] == "pending", (status, body)
            self.approvals[body["id"]] = {"subject": subject, "store": store,
                                          "amount": amount, "state": "pending"}
            DONE["filed"] += 1
        else:
            assert status == 409 and body["errors"]["permission"] == [reason], (status, body)
            DONE["filing refused"] += 1

    @rule(data=st.data(), approver=st.sampled_from((None, None, "carol", "carol", "dave",
                                                    "requester")),
          approve=st.sampled_from((True, True, False)))
    def decide(self, data, approver, approve):
        if not self.approvals:
            return
        # (mostly one still pending: that is where decisions are made)
        pending = sorted(i for i, k in self.approvals.items() if k["state"] == "pending")
        approval_id = data.draw(st.sampled_from(pending * 3 + sorted(self.approvals)))
        known = self.approvals[approval_id]
        who = known["subject"] if approver == "requester" else approver
        caller = self.owner if who is None else self.check
        body = {"approve": approve, **({"approver": who} if who else {})}
        status, answer = caller("POST", f"/v1/tenants/{self.tenant}/approvals/"
                                        f"{approval_id}/decision", body)
        if known["state"] in ("rejected", "used"):
            assert status == 404, answer  # closed
        elif known["state"] == "approved":
            assert status == 409, answer
        elif who is not None and (who == known["subject"] or who == "dave"
                                  or known["store"] != "amazon-us"):
            assert status == 403, answer
            DONE["decision refused"] += 1
        else:
            assert status == 200, answer
            known["state"] = "approved" if approve else "rejected"
            DONE["approved" if approve else "rejected"] += 1

    @rule(data=st.data(), amount=st.sampled_from(AMOUNTS))
    def use(self, data, amount):
        if not self.approvals:
            return
        # (mostly one that was decided: that is where uses and second uses are)
        decided = sorted(i for i, k in self.approvals.items() if k["state"] != "pending")
        approval_id = data.draw(st.sampled_from(decided * 3 + sorted(self.approvals)))
        known = self.approvals[approval_id]
        status, answer = self.check("POST", "/check", {
            "subject": known["subject"], "store": known["store"], "object": "refunds",
            "action": "approve", "context": {"amount": amount, "approval": approval_id}})
        assert status == 200, answer
        state = known["state"]
        if state == "approved":
            expected = "granted" if Decimal(amount) <= Decimal(known["amount"]) \
                else "approval_mismatch"
        else:
            expected = f"approval_{state}"
        assert answer["reason"] == expected, (known, amount, answer)
        assert answer["allowed"] is (expected == "granted")
        if expected == "granted":
            known["state"] = "used"
            DONE["used"] += 1
            status, again = self.check("POST", "/check", {
                "subject": known["subject"], "store": known["store"], "object": "refunds",
                "action": "approve", "context": {"amount": amount, "approval": approval_id}})
            assert (again["allowed"], again["reason"]) == (False, "approval_used"), again
            DONE["second use denied"] += 1

    # -- after every step ------------------------------------------------------------------
    @invariant()
    def checks_follow_the_model_and_pycasbin(self):
        export = self.client.get(f"/v1/tenants/{self.tenant}/export.csv",
                                 headers=self.owner.headers).get_data(True)
        auditor = replay(export)
        asked = [(s, st_, a) for s in SUBJECTS for st_ in STORES for a in (None, *AMOUNTS)]
        status, body = self.check("POST", "/check/batch", {"checks": [
            {"subject": s, "store": st_, "object": "refunds", "action": "approve",
             **({"context": {"amount": a}} if a else {})} for s, st_, a in asked]})
        assert status == 200, body
        t = self.tenant
        for (s, st_, a), result in zip(asked, body["results"], strict=True):
            reason, requires = self.expected(s, st_, a)
            assert (result["reason"], result["requires"]) == (reason, requires), (
                s, st_, a, result, self.role_limit, self.direct, self.mode)
            assert result["allowed"] == auditor.enforce(
                f"user:{t}:{s}", f"{t}/{st_}", "refunds", "approve", "", "",
                amounts.parse(a) if a else "", "")
        for approval_id, known in self.approvals.items():
            status, explained = self.check("POST", "/explain", {
                "subject": known["subject"], "store": known["store"], "object": "refunds",
                "action": "approve", "context": {"amount": known["amount"],
                                                 "approval": approval_id}})
            assert status == 200, explained
            assert explained["allowed"] is (known["state"] == "approved"), (known, explained)
            assert explained["allowed"] == auditor.enforce(
                f"user:{t}:{known['subject']}", f"{t}/{known['store']}", "refunds",
                "approve", "", "", amounts.parse(known["amount"]), f"approval:{t}:{approval_id}")
            status, listed = self.owner("GET", f"/v1/tenants/{t}/approvals/{approval_id}")
            assert listed["state"] == known["state"], (known, listed)


def test_random_approval_sequences_keep_every_invariant(client):
    ApprovalSequences.client = client
    DONE.clear()
    run_state_machine_as_test(ApprovalSequences, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        derandomize=True,  # the same sequences every run: the coverage below holds
        suppress_health_check=list(HealthCheck)))
    wanted = {"role limit", "direct grant", "filed", "filing refused", "approved", "rejected",
              "decision refused", "used", "second use denied"}
    assert wanted <= set(DONE), (sorted(wanted - set(DONE)), DONE)
