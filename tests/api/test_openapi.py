"""/openapi.json documents every route the app serves, and the one error shape."""

from __future__ import annotations

import json
import re
from pathlib import Path

UNDOCUMENTED = {"/static/<path:filename>", "/openapi.json", "/docs"}
CONSOLE = "/console"  # HTML pages for people (tests/api/test_console.py), not API operations


def test_every_route_is_in_the_document(app, client):
    spec = client.get("/openapi.json").get_json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items()
                  for method in ops if method != "parameters"}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule in UNDOCUMENTED or rule.rule.startswith(("/docs", CONSOLE)):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served - documented == set()
    assert documented - served == set()


def test_every_operation_has_a_summary_and_the_error_shape_is_documented(client):
    spec = client.get("/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]
    assert {"code", "status", "message", "errors"} <= error["properties"].keys()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            assert op.get("summary") or op.get("description"), (method, path)
            assert "default" in op["responses"], (method, path)


def test_the_docs_page_is_served(client):
    page = client.get("/docs")
    assert page.status_code == 200 and b"openapi.json" in page.data


def test_every_reason_code_is_documented_in_the_openapi_document_and_the_readme(client):
    """R23: storefronts branch on the codes, so each one an answer can carry is listed in
    the check answers' schema and explained in the README's table."""
    from service.domain import reasons

    from ..support import ROOT

    spec = client.get("/openapi.json").get_json()["components"]["schemas"]
    for schema in ("CheckResult", "BatchItem"):
        assert spec[schema]["properties"]["reason"]["enum"] == list(reasons.CODES)
        assert set(spec[schema]["required"]) >= {"allowed", "reason", "requires"}
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Why a check is answered as it is (R23)")[1].split("###")[0]
    missing = [code for code in reasons.CODES if f"`{code}`" not in table]
    assert not missing, missing


def test_the_typescript_client_is_typed_from_this_document(client):
    """clients/typescript is typed from its copy of the document; a schema changed without
    `make client-types` fails here first (its Node test then checks the types themselves)."""
    copy = Path(__file__).resolve().parents[2] / "clients" / "typescript" / "openapi.json"
    assert json.loads(copy.read_text()) == client.get("/openapi.json").get_json(), (
        "clients/typescript/openapi.json is stale: run `make client-types`")
