"""No key can reach beyond itself: another tenant's owner key, and any check key, get 403
on every route that reads or changes a tenant, and nothing changes (issue 8, R1, R13)."""

from __future__ import annotations

import pytest

from ..support import (
    ACME_AUDIT,
    ACME_CHECK,
    ACME_OWNER,
    ADMIN,
    GLOBEX_AUDIT,
    GLOBEX_CHECK,
    GLOBEX_OWNER,
    bearer,
)
from .test_approvals import TENANT_ROUTES as APPROVAL_ROUTES
from .test_apps import TENANT_ROUTES as APP_ROUTES
from .test_hostile import ROUTES, snapshot

READS = ["/v1/tenants/acme/policy", "/v1/tenants/acme/export.csv",
         "/v1/tenants/acme/export.json", "/v1/tenants/acme/roles",
         "/v1/tenants/acme/settings", "/v1/tenants/acme/departments", "/v1/tenants/acme/keys",
         "/v1/tenants/acme/subaccounts", "/v1/tenants/acme/subaccounts/alice",
         "/v1/tenants/acme/stores/tmall-flagship/products", "/v1/tenants/acme/ledger",
         "/v1/tenants/acme/who-can?permission=orders:view&store=amazon-us",
         "/v1/tenants/acme/subaccounts/alice/can?permission=orders:view",
         "/v1/tenants/acme/stores/amazon-us/matrix",
         "/v1/tenants/acme/stores/amazon-us/matrix.csv",
         "/v1/tenants/acme/diff?from=0&to=1", "/v1/tenants/acme/decisions",
         "/v1/tenants/acme/unused-grants?days=30", "/v1/tenants/acme/expiring-grants",
         "/v1/tenants/acme/approval-modes"]
# Writes whose well-formed body depends on the tenant's current policy (not in ROUTES).
MORE = [("POST", "/v1/tenants/acme/import", {"csv": "", "dry_run": False}, (200,)),
        ("POST", "/v1/tenants/acme/lint", {"csv": ""}, (200,))]


# Decisions on a path that names the tenant (tests/api/test_check_api.py covers who may ask).
CHECKS = [("POST", "/v1/tenants/acme/check"), ("POST", "/v1/tenants/acme/check/batch"),
          *(("POST", f"/v1/tenants/acme/access/v1/{api}") for api in (
              "evaluation", "evaluations", "search/subject", "search/resource",
              "search/action")),  # AuthZEN (tests/api/test_authzen.py covers who may ask)
          ("GET", "/.well-known/authzen-configuration/v1/tenants/acme")]  # (no key needed)


def test_every_tenant_route_is_in_these_lists(app):
    listed = {(m, p) for m, p, _, _ in ROUTES + MORE} | {("GET", p.split("?")[0])
                                                          for p in READS} | set(CHECKS) \
        | set(APP_ROUTES) | set(APPROVAL_ROUTES)
    templates = set()
    for rule in app.url_map.iter_rules():
        if "<tenant>" in rule.rule:
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                templates.add((method, rule.rule))
    covered = {(m, t) for m, t in templates
               if any(m == lm and _fits(t, lp) for lm, lp in listed)}
    assert covered == templates, sorted(templates - covered)


def _fits(template: str, path: str) -> bool:
    a, b = template.split("/"), path.split("/")
    return len(a) == len(b) and all(x == y or x.startswith("<") for x, y in zip(a, b,
                                                                                  strict=True))


@pytest.mark.parametrize("token", [GLOBEX_OWNER, GLOBEX_CHECK, GLOBEX_AUDIT, ACME_CHECK],
                         ids=["other-owner", "other-check", "other-audit", "own-check"])
def test_foreign_and_check_keys_change_nothing(app, client, token):
    before = snapshot(app)
    for method, path, body, _ in ROUTES + MORE:
        response = client.open(path, method=method, json=body, headers=bearer(token))
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.get_json()["code"] == 403
    assert snapshot(app) == before
    for path in READS:
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 403, (path, response.status_code)


def test_the_audit_key_reads_its_tenant_and_changes_nothing(app, client):
    """An auditor reads everything of its tenant but its keys, and writes nothing; linting
    a file is a read (it changes nothing)."""
    before = snapshot(app)
    for method, path, body, _ in ROUTES + MORE:
        response = client.open(path, method=method, json=body, headers=bearer(ACME_AUDIT))
        expected = 200 if path.endswith("/lint") else 403
        assert response.status_code == expected, (method, path, response.status_code)
    response = client.delete("/v1/tenants/acme/stores/amazon-us?dry_run=true",
                             headers=bearer(ACME_AUDIT))
    assert response.status_code == 403  # a preview of a change is the owner's
    assert snapshot(app) == before
    for path in READS:
        response = client.get(path, headers=bearer(ACME_AUDIT))
        assert response.status_code == (403 if path.endswith("/keys") else 200), path


def test_the_owner_key_itself_gets_through_every_route(app, client):
    for path in READS:
        assert client.get(path, headers=bearer(ACME_OWNER)).status_code == 200, path


def test_only_the_admin_creates_tenants(client):
    for token in (ACME_OWNER, ACME_CHECK, GLOBEX_OWNER):
        response = client.post("/v1/tenants", json={"tenant": "evil"}, headers=bearer(token))
        assert response.status_code == 403


@pytest.mark.parametrize("permission", ["staff:manage", "staff:set-default-store",
                                        "billing:purchase"])
def test_owner_only_permissions_are_never_grantable(owner, checker, permission):
    def export() -> bytes:
        return owner.client.get("/v1/tenants/acme/export.csv", headers=owner.headers).data

    before = export()
    attempts = [
        ("POST", "/v1/tenants/{t}/roles", {"role": "sneaky", "permissions": [permission]}),
        ("PUT", "/v1/tenants/{t}/roles/designer", {"permissions": [permission]}),
        ("POST", "/v1/tenants/{t}/permissions",
         {"subject": "alice", "store": "amazon-us", "permission": permission}),
        ("POST", "/v1/tenants/{t}/permissions",
         {"department": "customer-care", "store": "amazon-us", "permission": permission}),
    ]
    for method, path, body in attempts:
        status, answer = owner(method, path, body)
        assert status == 422, (path, answer)
    area, action = permission.split(":")
    assert checker.check("alice", "amazon-us", area, action) is False
    assert export() == before


# -- the rights table (service/usecases/rights.py) ------------------------------------------
def _service_operations():
    """Every function of the service layer that acts for a caller (takes `caller`)."""
    import importlib
    import inspect
    import pkgutil
    import types

    import service.usecases as usecases

    for info in pkgutil.iter_modules(usecases.__path__):
        if info.name == "rights":  # the checks themselves
            continue
        module = importlib.import_module(f"service.usecases.{info.name}")
        members = list(vars(module).items())
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                members += [(f"{cls.__name__}.{n}", f) for n, f in vars(cls).items()]
        for name, function in members:
            if type(function) in (staticmethod, classmethod):  # never a proxy's attribute
                function = function.__func__
            if type(function) is not types.FunctionType \
                    or function.__module__ != module.__name__:
                continue
            if "caller" in inspect.signature(function).parameters:
                yield f"{module.__name__}.{name}", function


def test_every_service_operation_has_a_row_in_the_rights_table():
    """An operation that acts for a caller checks the caller itself, from the table."""
    from service.usecases import rights

    found = dict(_service_operations())
    assert len(found) >= 15  # the walk does reach the operations
    undeclared = sorted(n for n, f in found.items()
                        if getattr(f, "operation", None) not in rights.RIGHTS
                        # the decide row on the /check hot path, without the decorator
                        and n not in ("service.usecases.authz.Authz.check_tenant",
                                      "service.usecases.authz.Authz.check_areas",
                                      # the write of an operation that checked its own row
                                      "service.usecases.authz.Authz.commit"))
    assert not undeclared, f"service operations without a row in RIGHTS: {undeclared}"


@pytest.mark.parametrize("token, scope", [(ACME_OWNER, "owner"), (ACME_AUDIT, "audit"),
                                          (ACME_CHECK, "check"), (ADMIN, "admin")])
def test_every_read_answers_as_the_rights_table_says(client, token, scope):
    """What each key may read follows RIGHTS: a 403 exactly where its scope has no row."""
    from service.usecases import rights

    for path in READS:
        operation = rights.KEYS_READ if path.endswith("/keys") else rights.READ
        expected = 200 if scope in rights.RIGHTS[operation] else 403
        response = client.get(path, headers=bearer(token))
        assert response.status_code == expected, (scope, path, response.status_code)
