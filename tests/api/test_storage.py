"""The policy store: rules survive a reload exactly, writes are atomic, memory follows the
database only after commit. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import quote

import casbin
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from service.domain.rules import Rule
from service.storage import policy_store
from service.storage.models import LedgerEntry, PolicyRule, db
from service.usecases.unit_of_work import write

from ..support import ROOT, make_app

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)

HOSTILE = st.one_of(
    st.sampled_from(["a,b", "a, b", 'x"y', "x'y", "(x)", "a\nb", "*", "a\x00b", "ünïcode",
                     "role:acme:x", "acme/x", "x@acme", "a b", "", " ", "p, x, y",
                     "a" * 10_240, "A", "-x", ".", "orders:view"]),
    st.text(min_size=1, max_size=40),
    st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True),
)


def db_rules(tenant: str = "acme") -> set[Rule]:
    rules = set(policy_store.tenant_rules(tenant))
    db.session.rollback()
    return rules


def memory_equals_database(app) -> None:
    """Every tenant this worker holds (acme, which the tests write to, among them) holds
    exactly what the database does."""
    service = app.extensions["authz"]
    assert service.decider.holds("acme")
    for tenant in ("acme", "globex"):
        if service.decider.holds(tenant):
            assert service.decider.rules(tenant) == db_rules(tenant)


def reloaded_rules(database_url: str, tenant: str = "acme") -> set[Rule]:
    """What a new worker that starts from the database holds of the tenant once loaded."""
    fresh = make_app(database_url)
    with fresh.app_context():
        service = fresh.extensions["authz"]
        service.replica.hold(tenant)
        rules = service.decider.rules(tenant)
        db.session.remove()
        db.engine.dispose()
    return rules


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(store=HOSTILE, role=HOSTILE, subject=HOSTILE, permission=HOSTILE)
def test_hostile_values_are_refused_or_round_trip_exactly(app, owner, database_url, store, role,
                                                          subject, permission):
    area, _, action = permission.partition(":")
    user, dept = f"user:acme:{subject}", f"dept:acme:{subject}"
    writes = [
        ("POST", "/v1/tenants/{t}/stores", {"store": store},
         {Rule("g2", (f"acme/{store}", "acme")), Rule("g", ("user:acme:owner", f"acme/{store}"))}),
        ("POST", "/v1/tenants/{t}/roles", {"role": role, "permissions": [permission]},
         {Rule("p", (f"role:acme:{role}", "acme", area, action, "allow"))}),
        ("POST", "/v1/tenants/{t}/grants", {"subject": subject, "role": "operator",
                                            "stores": [store]},
         {Rule("g", (user, f"role:acme:operator@acme/{store}"))}),
        ("POST", "/v1/tenants/{t}/denies", {"department": subject, "store": "all",
                                            "permission": permission},
         {Rule("p", (dept, "acme", area, action, "deny"))}),
        ("PUT", f"/v1/tenants/{{t}}/subaccounts/{quote(subject, safe='')}/stores",
         {"stores": [store]},
         {Rule("g", (user, f"acme/{store}"))}),
    ]
    for method, path, body, expected in writes:
        before = db_rules()
        status, answer = owner(method, path, body)
        after = db_rules()
        if not 200 <= status < 300:  # refused (4xx), or redirected by routing (3xx)
            assert status < 500, answer
            assert after == before, "a refused write changed the database"
        else:
            # exactly the rules the write means (writes are idempotent, and an example may
            # repeat an earlier one), with every value verbatim: nothing else appeared
            assert after - before <= expected and expected <= after
        memory_equals_database(app)
    assert reloaded_rules(database_url) == db_rules()


def test_a_fresh_process_reads_back_exactly_what_was_written(app, owner, database_url, tmp_path):
    owner("POST", "/v1/tenants/{t}/stores", {"store": "x.y_z-1"})
    owner("POST", "/v1/tenants/{t}/grants", {"subject": "n.ew_1", "role": "operator",
                                             "stores": ["x.y_z-1"]})
    expected = sorted(r.csv() for r in db_rules())
    script = (
        "import sys; from service import create_app\n"
        "app = create_app({'AUTHZ_DATABASE_URL': sys.argv[1]})\n"
        "with app.app_context():\n"
        "    s = app.extensions['authz']; s.replica.hold('acme')\n"
        "    print('\\n'.join(sorted(r.csv() for r in s.decider.rules('acme'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, database_url], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == expected
    # and stock pycasbin reads the same export with no rule gained or lost
    export = tmp_path / "acme.csv"
    export.write_text(out)
    enforcer = casbin.Enforcer(str(ROOT / "policies" / "model.conf"), str(export))
    loaded = enforcer.get_policy() + enforcer.get_named_grouping_policy("g") + \
        enforcer.get_named_grouping_policy("g2")
    assert len(loaded) == len(expected)


def test_failed_database_write_leaves_memory_and_database_equal(app, owner, checker,
                                                                monkeypatch):
    before = db_rules()
    app.extensions["authz"].replica.hold("acme")
    revision = app.extensions["authz"].replica.revision("acme")
    real_execute = db.session.execute

    def failing_execute(statement, *args, **kwargs):
        if getattr(statement, "table", None) is LedgerEntry.__table__ or (
            args and isinstance(args[0], list)
        ):
            raise RuntimeError("disk full")
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", failing_execute)
    # the grant's rows are inserted as a batch: that insert fails half-way through the write
    status, body = owner("POST", "/v1/tenants/{t}/grants",
                         {"subject": "frank", "role": "finance", "stores": "all"})
    monkeypatch.undo()
    assert status == 500 and "disk" not in str(body)
    assert db_rules() == before
    memory_equals_database(app)
    assert app.extensions["authz"].replica.revision("acme") == revision
    assert checker.check("frank", "amazon-us", "finance", "view") is False


def test_failed_commit_changes_nothing(app, owner, checker, monkeypatch):
    before = db_rules()

    def failing_commit():
        raise RuntimeError("connection lost at commit")

    monkeypatch.setattr(db.session, "commit", failing_commit)
    status, body = owner("PUT", "/v1/tenants/{t}/subaccounts/alice/status", {"disabled": True})
    monkeypatch.undo()
    assert status == 500 and "connection lost" not in str(body)  # no internals shown
    assert db_rules() == before
    memory_equals_database(app)
    assert checker.check("alice", "amazon-us", "orders", "view") is True


def test_rows_are_unique_and_removes_delete_exactly_one(app):
    rule = Rule("p", ("user:acme:alice", "acme/amazon-us", "reports", "export", "allow"))

    def add(policy):
        policy.add(rule)

    write(policy_store.SQL, "acme", "test", "", add)
    with pytest.raises(Exception):  # noqa: B017 - the database's unique key refuses a twin
        db.session.add(PolicyRule(tenant="acme", ptype="p", **dict(zip(
            ("v0", "v1", "v2", "v3", "v4"), rule.values, strict=True))))
        db.session.commit()
    db.session.rollback()
    count = db.session.execute(select(func.count()).select_from(PolicyRule)).scalar_one()
    write(policy_store.SQL, "acme", "test", "", lambda p: p.remove(rule))
    after = db.session.execute(select(func.count()).select_from(PolicyRule)).scalar_one()
    assert after == count - 1


def test_every_revision_has_its_log_entry(app, owner):
    for store in ("s1", "s2", "s3"):
        owner("POST", "/v1/tenants/{t}/stores", {"store": store})
    head = policy_store.head("acme")
    revisions = db.session.execute(select(LedgerEntry.revision).where(
        LedgerEntry.tenant == "acme").order_by(LedgerEntry.revision)).scalars().all()
    assert revisions == list(range(1, head + 1))  # revisions are the tenant's own
    entry = policy_store.tenant_changes("acme", head - 1)[0]
    assert Rule("g2", ("acme/s3", "acme")) in entry.added and not entry.removed
