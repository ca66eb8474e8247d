"""Random sequences of limits and approvals (R22-R24) over the use cases, checked after
every step.

The defects of this kind show on the second operation - a use after a limit changed, a
decision after a mode changed, a second use - so a hypothesis state machine drives them,
each example in a tenant of its own, written by two workers in turn over one in-memory
store (as two processes share one database). Steps: set the role's limit, give or take a
supplementary grant with or without a limit, set the approval mode, file a request, decide
one (the owner, an approver, the requester, someone without the right), use one. A plain
model says what each must answer. After every step, on both workers:
  - a batch of decisions answers every (sub-account, store, amount) as the model says,
    reason and `requires` included, and as stock pycasbin says on the tenant's rules;
  - every request the model knows is explained with its approval as the model says
    (without using it), and as pycasbin says;
  - each request's state is the model's.
The routes' contract (status codes, bodies) is tests/api/test_approvals.py's.
"""

from __future__ import annotations

import os
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from service.domain import amounts
from service.domain import policy_admin as A
from service.domain.decider import CheckRequest
from service.domain.errors import Conflict, Forbidden, NotFound
from service.usecases import approvals as AP
from service.usecases import policy_edits as P
from service.usecases import subaccounts as U
from service.usecases import tenant_admin

from ..support import replay_answers
from .memory import Memory, admin, checker, owner

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
    def __init__(self):
        super().__init__()
        self.workers = (Memory(seed=False),)
        self.workers += (self.workers[0].other(),)
        self.turn = 0
        self.tenant = t = f"ap{next(COUNTER)}"
        service = self.workers[0].service
        tenant_admin.create_tenant(service, admin(), t)
        self.owner, self.check = owner(t), checker(t)
        for store in STORES:
            P.create_store(service, self.owner, t, store)
        # (starting where approvals are asked for: over a limit, in mode over_limit)
        P.create_role(service, self.owner, t, "refunder", [PERMISSION, "refunds:view"],
                      {PERMISSION: "100.00"})
        AP.set_mode(service, self.owner, t, PERMISSION, "over_limit")
        for login in (*SUBJECTS, "carol", "dave"):
            U.create(service, self.owner, t, login, list(STORES),
                     {"display_name": login, "email": f"{login}@{t}.example.com"}, [],
                     [{"role": "refunder", "stores": "all"}] if login in SUBJECTS else [])
        P.add_direct(service, self.owner, t, A.Grantee("user", "carol"), "amazon-us",
                     "approvals:decide", "allow")
        # the model
        self.role_limit: str | None = "100.00"
        self.direct: dict[tuple[str, str], str | None] = {}  # (subject, store) -> limit
        self.mode = "over_limit"
        self.approvals: dict[str, dict] = {}  # id -> subject, store, amount, state

    def worker(self) -> Memory:
        """The next worker in turn: each step is written by one and read by both."""
        self.turn += 1
        return self.workers[self.turn % 2]

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
    @initialize()
    def one_request_approved_and_two_pending(self):
        """Most sequences are worth running from here (not counted below)."""
        service = self.workers[0].service
        for subject, store, amount in (("s1", "amazon-us", "250.00"),
                                       ("s2", "amazon-us", "400.00"),
                                       ("s1", "shopee-sg", "100.01")):
            _, filed = AP.file(service, self.check, self.tenant, {
                "subject": subject, "store": store, "permission": PERMISSION,
                "amount": amount})
            self.approvals[filed["id"]] = {"subject": subject, "store": store,
                                           "amount": amount, "state": "pending"}
        first = next(iter(self.approvals))
        AP.decide(service, self.owner, self.tenant, first, None, True)
        self.approvals[first]["state"] = "approved"

    @rule(limit=st.sampled_from(LIMITS))
    def set_role_limit(self, limit):
        P.set_role_permissions(self.worker().service, self.owner, self.tenant, "refunder",
                               [PERMISSION, "refunds:view"],
                               {PERMISSION: limit} if limit else {})
        self.role_limit = limit
        DONE["role limit"] += 1

    @rule(subject=st.sampled_from(SUBJECTS), store=st.sampled_from(STORES),
          limit=st.sampled_from(LIMITS + ("revoke",)))
    def set_direct(self, subject, store, limit):
        service, who = self.worker().service, A.Grantee("user", subject)
        if limit == "revoke":
            if (subject, store) in self.direct:
                P.remove_direct(service, self.owner, self.tenant, who, store, PERMISSION,
                                "allow")
            else:
                with pytest.raises(NotFound):
                    P.remove_direct(service, self.owner, self.tenant, who, store, PERMISSION,
                                    "allow")
            self.direct.pop((subject, store), None)
        else:
            P.add_direct(service, self.owner, self.tenant, who, store, PERMISSION, "allow",
                         None, limit)
            self.direct[(subject, store)] = limit
        DONE["direct grant"] += 1

    @rule(mode=st.sampled_from(("never", "over_limit", "always")))
    def set_mode(self, mode):
        AP.set_mode(self.worker().service, self.owner, self.tenant, PERMISSION, mode)
        self.mode = mode

    @rule(subject=st.sampled_from(SUBJECTS), store=st.sampled_from(STORES),
          amount=st.sampled_from(AMOUNTS))
    def file(self, subject, store, amount):
        service = self.worker().service
        body = {"subject": subject, "store": store, "permission": PERMISSION, "amount": amount}
        reason, requires = self.expected(subject, store, amount)
        if requires == "approval":
            _, filed = AP.file(service, self.check, self.tenant, body)
            assert filed["state"] == "pending", filed
            self.approvals[filed["id"]] = {"subject": subject, "store": store,
                                           "amount": amount, "state": "pending"}
            DONE["filed"] += 1
        else:
            with pytest.raises(Conflict) as refused:
                AP.file(service, self.check, self.tenant, body)
            assert refused.value.errors["permission"] == [reason], refused.value.errors
            DONE["filing refused"] += 1

    @precondition(lambda self: any(k["state"] == "pending" for k in self.approvals.values()))
    @rule(data=st.data(), approver=st.sampled_from((None, None, "carol", "carol", "dave",
                                                    "requester")),
          approve=st.booleans())
    def decide(self, data, approver, approve):
        # (mostly one still pending: that is where decisions are made)
        # (in filing order: ids are random, and the same draws must pick the same request)
        pending = [i for i, k in self.approvals.items() if k["state"] == "pending"]
        approval_id = data.draw(st.sampled_from(pending * 3 + list(self.approvals)))
        known = self.approvals[approval_id]
        who = known["subject"] if approver == "requester" else approver
        caller = self.owner if who is None else self.check

        def decide():
            return AP.decide(self.worker().service, caller, self.tenant, approval_id, who,
                             approve)

        if known["state"] in ("rejected", "used"):
            with pytest.raises(NotFound):  # closed
                decide()
        elif known["state"] == "approved":
            with pytest.raises(Conflict):
                decide()
        elif who is not None and (who == known["subject"] or who == "dave"
                                  or known["store"] != "amazon-us"):
            with pytest.raises(Forbidden):
                decide()
            DONE["decision refused"] += 1
        else:
            decide()
            known["state"] = "approved" if approve else "rejected"
            DONE["approved" if approve else "rejected"] += 1

    @precondition(lambda self: any(k["state"] != "pending" for k in self.approvals.values()))
    @rule(data=st.data())
    def use(self, data):
        # (mostly one that was approved, or decided: where uses and second uses are)
        decided = [i for i, k in self.approvals.items() if k["state"] != "pending"]
        approved = [i for i in decided if self.approvals[i]["state"] == "approved"]
        approval_id = data.draw(st.sampled_from(approved * 3 + decided * 2
                                                + list(self.approvals)))
        known = self.approvals[approval_id]
        # (mostly the approved amount: that is where a use is allowed)
        amount = data.draw(st.sampled_from((known["amount"],) * 3 + AMOUNTS))

        def use(worker: Memory) -> str:
            return worker.answer(self.tenant, known["subject"], known["store"], PERMISSION,
                                 amount=amount, approval=approval_id)

        state = known["state"]
        if state == "approved":
            expected = "granted" if Decimal(amount) <= Decimal(known["amount"]) \
                else "approval_mismatch"
        else:
            expected = f"approval_{state}"
        assert use(self.worker()) == expected, (known, amount)
        if expected == "granted":
            known["state"] = "used"
            DONE["used"] += 1
            assert use(self.worker()) == "approval_used"  # on the other worker
            DONE["second use denied"] += 1

    # -- after every step ------------------------------------------------------------------
    @invariant()
    def checks_follow_the_model_and_pycasbin(self):
        t = self.tenant
        asked = [(s, st_, a) for s in SUBJECTS for st_ in STORES for a in (None, *AMOUNTS)]
        requests = [CheckRequest(t, s, st_, "refunds", "approve", False, "",
                                 amounts.parse(a) if a else "", "") for s, st_, a in asked]
        approvals = list(self.approvals.items())
        auditor = replay_answers(
            "".join(r.csv() + "\n" for r in self.workers[0].store.read(t).rules()),
            tuple([(f"user:{t}:{s}", f"{t}/{st_}", "refunds", "approve", "", "",
                    amounts.parse(a) if a else "", "") for s, st_, a in asked]
                  + [(f"user:{t}:{k['subject']}", f"{t}/{k['store']}", "refunds", "approve",
                      "", "", amounts.parse(k["amount"]), f"approval:{t}:{approval_id}")
                     for approval_id, k in approvals]))
        for worker in self.workers:
            worker.service.replica.catch_up(force=True)
            answers = worker.service.answer(requests)
            decider = worker.service.decider
            for (s, st_, a), code, allowed in zip(asked, answers, auditor[:len(asked)],
                                                   strict=True):
                reason, requires = self.expected(s, st_, a)
                assert (code, decider.requires(t, "refunds", "approve", code)) == (
                    reason, requires), (s, st_, a, code, self.role_limit, self.direct,
                                        self.mode)
                assert (code == "granted") == allowed
            for (approval_id, known), allowed in zip(approvals, auditor[len(asked):],
                                                     strict=True):
                request = CheckRequest(t, known["subject"], known["store"], "refunds",
                                       "approve", False, "", amounts.parse(known["amount"]),
                                       approval_id)
                explained = worker.service.explain(self.check, t, request)
                assert explained["allowed"] is (known["state"] == "approved"), (
                    known, explained)
                assert explained["allowed"] == allowed
                listed = AP.get(worker.service, self.owner, t, approval_id)
                assert listed["state"] == known["state"], (known, listed)


def test_random_approval_sequences_keep_every_invariant():
    DONE.clear()
    run_state_machine_as_test(ApprovalSequences, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        # the same sequences every run (no example database either): the coverage holds
        derandomize=True, database=None,
        suppress_health_check=list(HealthCheck)))
    wanted = {"role limit", "direct grant", "filed", "filing refused", "approved", "rejected",
              "decision refused", "used", "second use denied"}
    assert wanted <= set(DONE), (sorted(wanted - set(DONE)), DONE)
