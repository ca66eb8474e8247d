"""Random sequences of app operations (R21), checked after every step: the defects of this
kind show on the second operation (a grant after a rename, a reinstall after an uninstall,
a publish after a tenant left), so a hypothesis state machine drives them.

One app, `zap`, and the seed's two tenants. Steps: publish a next version (a new
permission, a rename, a high-risk mark turned on or off, a deprecation, a removal), install,
uninstall (dry run first: it must list exactly what then goes), grant an app permission in
a role, grant or deny one directly, toggle step-up, move in settings through the app key.
A plain model says which must succeed. After every step, for both tenants:
  - the export replayed in stock pycasbin answers every app permission as /check does,
    except that a tenant that has not installed the app is denied (app_not_installed);
  - no rule names a permission outside the app's newest version, and step-up (when on)
    covers exactly its high-risk permissions;
  - the export lints clean and imports back with nothing to change;
  - what /allowed/permissions lists is what /check allows.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ..support import (
    ACME_CHECK,
    ACME_OWNER,
    ADMIN,
    GLOBEX_CHECK,
    GLOBEX_OWNER,
    Caller,
    replay_answers,
)

EXAMPLES = int(os.environ.get("AUTHZ_FUZZ_SEQUENCES", "10"))
STEPS = 30
NAME = {"en": "Zap", "zh-CN": "闪电"}
POOL = ("ads:view", "ads:edit", "ads:pay", "feed:view", "feed:sync")
TENANTS = {
    "acme": {"owner": ACME_OWNER, "check": ACME_CHECK, "subjects": ("dave", "alice", "carol"),
             "stores": ("amazon-us", "tmall-flagship", "shopee-sg"), "role": "operator"},
    "globex": {"owner": GLOBEX_OWNER, "check": GLOBEX_CHECK, "subjects": ("alice", "kim"),
               "stores": ("amazon-us", "ebay-de"), "role": "operator"},
}


# What the sequences did: the test asserts each kind of step happened, so it cannot pass
# by never reaching the states that matter.
DONE: Counter = Counter()


def describe(name: str) -> dict:
    return {"en": f"do {name}", "zh-CN": f"执行 {name}"}


class AppSequences(RuleBasedStateMachine):
    client = None  # set by the test

    def __init__(self):
        super().__init__()
        admin = Caller(self.client, ADMIN)
        self.app_id = f"zap{next(COUNTER)}"
        status, body = admin("POST", "/v1/apps", {"app": self.app_id, "name": NAME})
        assert status == 201, body
        self.app = Caller(self.client, body["token"])
        self.version: dict[str, dict] | None = None  # local name -> marks, newest version
        self.installed: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------
    def owner(self, tenant: str) -> Caller:
        return Caller(self.client, TENANTS[tenant]["owner"])

    def full(self, local: str) -> str:
        return f"{self.app_id}.{local}"

    def export(self, tenant: str) -> str:
        response = self.client.get(f"/v1/tenants/{tenant}/export.csv",
                                   headers=self.owner(tenant).headers)
        assert response.status_code == 200
        return response.get_data(True)

    def granted(self, tenant: str) -> set[str]:
        """Local names the tenant's rules name (step-up and the owner's app rule apart)."""
        out = set()
        for line in self.export(tenant).splitlines():
            v = [x.strip() for x in line.split(",")]
            if v[0] == "p" and v[3].startswith(self.app_id + ".") and v[1] != "step-up" \
                    and v[3] != f"{self.app_id}.*":
                out.add(f"{v[3].split('.', 1)[1]}:{v[4]}")
        return out

    def publish(self, names: dict[str, dict], renames: dict[str, str] | None = None):
        body = {"permissions": [{"name": n, "description": describe(n),
                                 "high_risk": m["high_risk"]} for n, m in names.items()],
                "deprecated": sorted(n for n, m in names.items() if m["deprecated"])}
        if renames:
            body["renames"] = renames
        return self.app("PUT", f"/v1/apps/{self.app_id}/catalogue", body)

    def grantable(self, local: str) -> bool:
        return self.version is not None and local in self.version \
            and not self.version[local]["deprecated"]

    # -- steps -----------------------------------------------------------------------------
    @initialize(risky=st.booleans())
    def first_version_installed_in_acme(self, risky):
        """Most sequences are worth running from here: a version, installed, one grant."""
        names = {"ads:view": {"high_risk": False, "deprecated": False},
                 "ads:edit": {"high_risk": risky, "deprecated": False}}
        status, body = self.publish(names)
        assert status == 200, body
        self.version = names
        self.install("acme")
        status, body = self.owner("acme")("POST", "/v1/tenants/acme/permissions", {
            "subject": "dave", "store": "amazon-us", "permission": self.full("ads:edit")})
        assert status == 200, body

    @rule(data=st.data())
    def publish_next(self, data):
        names = {n: dict(m) for n, m in (self.version or {}).items()}
        renames = {}
        change = data.draw(st.sampled_from(["add", "rename", "risk", "deprecate", "remove"]))
        free = [n for n in POOL if n not in names]
        if change == "add" or not names:
            if not free:
                return
            names[data.draw(st.sampled_from(free))] = {"high_risk": data.draw(st.booleans()),
                                                       "deprecated": False}
        elif change == "rename" and free:
            old = data.draw(st.sampled_from(sorted(names)))
            new = data.draw(st.sampled_from(free))
            names[new] = names.pop(old)
            renames[old] = new
        elif change == "risk":
            name = data.draw(st.sampled_from(sorted(names)))
            names[name]["high_risk"] = not names[name]["high_risk"]
        elif change == "deprecate":
            name = data.draw(st.sampled_from(sorted(names)))
            names[name]["deprecated"] = True
        elif change == "remove" and len(names) > 1:
            name = data.draw(st.sampled_from(sorted(names)))
            del names[name]
        self.publish_version(names, renames)

    @rule(data=st.data(), remove=st.booleans())
    def rename_or_remove_a_granted_permission(self, data, remove):
        """What a version must carry through every tenant's rules (a rename) or refuse (a
        removal): drawn apart, as publish_next reaches it only now and then."""
        granted = sorted(set(self.version or {}) & self.every_granted())
        free = [n for n in POOL if n not in (self.version or {})]
        if not granted or not (free or remove):
            return
        names = {n: dict(m) for n, m in self.version.items()}
        old = data.draw(st.sampled_from(granted))
        renames = {}
        if remove:
            del names[old]
        else:
            renames[old] = data.draw(st.sampled_from(free))
            names[renames[old]] = names.pop(old)
        self.publish_version(names, renames)

    def every_granted(self) -> set[str]:
        return set().union(*(self.granted(t) for t in TENANTS))

    def publish_version(self, names: dict[str, dict], renames: dict[str, str]) -> None:
        """Publish `names` (with `renames`): refused whole if it removes a permission some
        tenant grants, else every tenant's rules follow."""
        granted = self.every_granted()
        removed = set(self.version or {}) - set(names) - set(renames)
        status, body = self.publish(names, renames)
        if removed & granted:
            assert status == 409, body
            DONE["removal of a granted permission refused"] += 1
            return
        assert status == 200, body
        assert not body["failed"], body
        if set(renames) & granted:
            DONE["rename of a granted permission"] += 1
            assert body["tenants"], body  # some tenant's rules followed
        self.version = names

    @rule(tenant=st.sampled_from(sorted(TENANTS)))
    def install(self, tenant):
        status, body = self.owner(tenant)("PUT", f"/v1/tenants/{tenant}/apps/{self.app_id}", {})
        if self.version is None or tenant in self.installed:
            assert status == 409, body
            return
        assert status == 200, body
        DONE["install"] += 1
        self.installed.add(tenant)

    @rule(tenant=st.sampled_from(sorted(TENANTS)))
    def uninstall(self, tenant):
        owner = self.owner(tenant)
        path = f"/v1/tenants/{tenant}/apps/{self.app_id}"
        status, dry = owner("DELETE", path + "?dry_run=true")
        if tenant not in self.installed:
            assert status == 404, dry
            return
        before = set(self.export(tenant).splitlines())
        status, done = owner("DELETE", path)
        assert status == 200 and done["removed_rules"] == dry["removed_rules"], (dry, done)
        after = set(self.export(tenant).splitlines())
        assert sorted(before - after) == sorted(done["removed_rules"])
        assert not [line for line in after if self.app_id in line]
        DONE["uninstall" + (" with rules" if len(done["removed_rules"]) > 1 else "")] += 1
        self.installed.discard(tenant)

    def some_name(self, data) -> str:
        """A permission name, of the newest version more often than not."""
        known = sorted(self.version or ())
        return data.draw(st.sampled_from(known * 3 + list(POOL)))

    @rule(tenant=st.sampled_from(sorted(TENANTS)), data=st.data())
    def grant_in_role(self, tenant, data):
        local = self.some_name(data)
        owner, role = self.owner(tenant), TENANTS[tenant]["role"]
        status, roles = owner("GET", f"/v1/tenants/{tenant}/roles")
        held = next(r["permissions"] for r in roles["roles"] if r["role"] == role)
        status, body = owner("PUT", f"/v1/tenants/{tenant}/roles/{role}",
                             {"permissions": sorted(set(held) | {self.full(local)})})
        ok = tenant in self.installed and (self.grantable(local) or self.full(local) in held)
        assert (status == 200) == ok, (status, body)
        DONE["role grant" if ok else "role grant refused"] += 1

    @rule(effect=st.sampled_from(["allow", "deny"]), data=st.data())
    def grant_directly(self, effect, data):
        # mostly where the app is installed: elsewhere every grant is refused alike
        tenant = data.draw(st.sampled_from(sorted(self.installed) * 3 + sorted(TENANTS)))
        local = self.some_name(data)
        subject = data.draw(st.sampled_from(TENANTS[tenant]["subjects"]))
        store = data.draw(st.sampled_from(TENANTS[tenant]["stores"]))
        path = "/permissions" if effect == "allow" else "/denies"
        status, body = self.owner(tenant)("POST", f"/v1/tenants/{tenant}{path}", {
            "subject": subject, "store": store, "permission": self.full(local)})
        known = self.version is not None and local in self.version
        ok = tenant in self.installed and (self.grantable(local) if effect == "allow"
                                           else known)
        assert (status == 200) == ok or (ok and status == 404), (status, body)
        DONE[f"direct {effect}" if status == 200 else f"direct {effect} refused"] += 1

    @rule(tenant=st.sampled_from(sorted(TENANTS)), on=st.booleans())
    def step_up(self, tenant, on):
        status, body = self.owner(tenant)("PATCH", f"/v1/tenants/{tenant}/settings",
                                          {"step_up": on})
        assert status == 200, body

    @rule(store=st.sampled_from(["amazon-us", "all"]), data=st.data())
    def move_in_settings(self, store, data):
        local = self.some_name(data)
        status, body = self.app("POST", f"/v1/tenants/acme/apps/{self.app_id}/import", {
            "grants": [{"subject": "dave", "store": store, "permissions": [local]}],
            "dry_run": False})
        if "acme" not in self.installed:
            assert status == 409, body
        else:
            assert (status == 200) == self.grantable(local), (status, body)
            DONE["settings moved in" if status == 200 else "settings refused"] += 1

    # -- after every step ------------------------------------------------------------------
    @invariant()
    def decisions_equal_the_exported_policy(self):
        for tenant, spec in TENANTS.items():
            checker = Caller(self.client, spec["check"])
            store = spec["stores"][0]
            asked = [(subject, local, mfa) for subject in (*spec["subjects"], "owner")
                     for local in POOL for mfa in (False, True)]
            # the owner's `*` allows anything: its list holds the catalogue's names
            listed = [(subject, local) for subject in (*spec["subjects"], "owner")
                      for local in (self.version if subject == "owner" else POOL)]
            answers = iter(replay_answers(self.export(tenant), tuple(
                [(f"user:{tenant}:{subject}", f"{tenant}/{store}", *self.full(local).split(":"),
                  "passed" if mfa else "", "", "", "") for subject, local, mfa in asked]
                + [(f"user:{tenant}:{subject}", f"{tenant}/{store}", *self.full(local).split(":"),
                    "", "", "", "") for subject, local in listed])))
            status, answer = checker("POST", "/check/batch", {"checks": [
                {"subject": subject, "store": store, "object": self.full(local).split(":")[0],
                 "action": local.split(":")[1], "context": {"second_factor": mfa}}
                for subject, local, mfa in asked]})
            assert status == 200, answer
            for (subject, local, mfa), result in zip(asked, answer["results"], strict=True):
                expected = next(answers) and tenant in self.installed
                assert result["allowed"] == expected, (tenant, subject, local, mfa)
                assert (result["reason"] == "app_not_installed") == (
                    tenant not in self.installed), result
            expect: dict[str, set] = {s: set() for s in (*spec["subjects"], "owner")}
            for subject, local in listed:
                if next(answers) and tenant in self.installed:
                    expect[subject].add(self.full(local))
            for subject in (*spec["subjects"], "owner"):
                status, shown = checker("GET", f"/v1/tenants/{tenant}/allowed/permissions?"
                                               f"subject={subject}&store={store}")
                mine = {n for n in shown["permissions"] if n.startswith(self.app_id + ".")}
                assert mine == expect[subject], (tenant, subject, mine, expect[subject])

    @invariant()
    def rules_follow_the_newest_version(self):
        for tenant in TENANTS:
            export = self.export(tenant)
            names = self.granted(tenant)
            if tenant not in self.installed:
                assert self.app_id not in export
                continue
            assert names <= set(self.version), (names, self.version)
            step_up = {f"{v[3].split('.', 1)[1]}:{v[4]}" for v in
                       ([x.strip() for x in line.split(",")] for line in export.splitlines())
                       if v[0] == "p" and v[1] == "step-up" and v[3].startswith(self.app_id)}
            on = "p, step-up," in export
            high = {n for n, m in self.version.items() if m["high_risk"]}
            assert step_up == (high if on else set()), (step_up, high, on)
            owner = self.owner(tenant)
            status, lint = owner("POST", f"/v1/tenants/{tenant}/lint", {"csv": export})
            assert not [f for f in lint["findings"] if f["severity"] == "error"], lint
            status, plan = owner("POST", f"/v1/tenants/{tenant}/import",
                                 {"csv": export, "dry_run": True})
            assert status == 200 and plan["added"] == plan["removed"] == [], plan


COUNTER = iter(range(10**9))


def test_random_app_sequences_keep_every_invariant(client):
    AppSequences.client = client
    DONE.clear()
    run_state_machine_as_test(AppSequences, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        # the same sequences every run (no example database either): the coverage holds
        derandomize=True, database=None,
        suppress_health_check=list(HealthCheck)))
    wanted = {"install", "uninstall with rules", "role grant", "role grant refused",
              "direct allow", "direct deny", "rename of a granted permission",
              "removal of a granted permission refused", "settings moved in"}
    assert wanted <= set(DONE), (sorted(wanted - set(DONE)), DONE)
