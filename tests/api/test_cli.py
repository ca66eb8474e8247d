"""The `flask --app service ...` commands, through Flask's CLI runner."""

from __future__ import annotations

import pytest

from ..support import ACME_OWNER, ROOT, bearer

pytestmark = pytest.mark.storage  # run on both databases (tests/conftest.py)


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def _token(output: str, label: str) -> str:
    line = next(x for x in output.splitlines() if x.startswith(label))
    return line.rsplit(" ", 1)[1]


def test_create_tenant_prints_keys_that_work(cli, client):
    result = cli.invoke(args=["create-tenant", "initech", "--name", "Initech"])
    assert result.exit_code == 0, result.output
    owner, check = _token(result.output, "owner key:"), _token(result.output, "check key:")
    assert client.post("/v1/tenants/initech/stores", json={"store": "main"},
                       headers=bearer(owner)).status_code == 201
    answer = client.post("/check", json={"subject": "owner", "store": "main",
                                         "object": "orders", "action": "view"},
                         headers=bearer(check))
    assert answer.get_json()["allowed"] is True
    again = cli.invoke(args=["create-tenant", "initech"])
    assert again.exit_code == 1 and "exists" in again.stderr


def test_rotate_and_revoke_keys(cli, client):
    rotated = cli.invoke(args=["new-key", "acme", "--scope", "owner", "--replaces",
                               "acme-owner", "--overlap-seconds", "0"])
    assert rotated.exit_code == 0, rotated.output
    token = rotated.output.split(": ", 1)[1].splitlines()[0]
    assert client.get("/v1/tenants/acme/keys", headers=bearer(ACME_OWNER)).status_code == 401
    assert client.get("/v1/tenants/acme/keys", headers=bearer(token)).status_code == 200
    revoked = cli.invoke(args=["revoke-key", "acme", "acme-check"])
    assert revoked.exit_code == 0, revoked.output
    unknown = cli.invoke(args=["revoke-key", "nobody", "acme-check"])
    assert unknown.exit_code == 1


def test_export_is_the_api_export(cli, client):
    result = cli.invoke(args=["export", "acme"])
    assert result.exit_code == 0
    api = client.get("/v1/tenants/acme/export.csv", headers=bearer(ACME_OWNER)).data.decode()
    assert result.stdout == api and "p, user:acme:owner, acme, *, *, allow" in api


@pytest.mark.postgres
def test_bench_data_reports_progress_in_plain_lines():
    """bench/generate.py (its own command: the service does not import bench/)."""
    import os
    import subprocess
    import sys

    from harness.servers import scratch_database

    with scratch_database("authz_cli") as url:
        result = subprocess.run([sys.executable, "-m", "bench.generate", "--scale", "small"],
                                cwd=ROOT, capture_output=True, text=True, timeout=300,
                                env={**os.environ, "AUTHZ_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    lines = [x for x in output.splitlines() if x.startswith("tenants: ")]
    assert len(lines) == 10 and lines[-1] == "tenants: 20/20 (100%)"
    assert "rules generated (small)" in output


def test_import_diff_and_lint_commands(cli, client, tmp_path):
    exported = cli.invoke(args=["export", "acme"]).stdout
    edited = tmp_path / "acme.csv"
    edited.write_text(exported + "p, user:acme:alice, acme/amazon-us, reports, export, allow\n")
    dry = cli.invoke(args=["import", "acme", str(edited)])
    assert dry.exit_code == 0, dry.output
    assert "+ p, user:acme:alice, acme/amazon-us, reports, export, allow" in dry.stdout
    assert "alice amazon-us reports:export: deny -> allow" in dry.stdout
    assert "dry run: nothing changed" in dry.stdout
    assert "reading: " in dry.stderr  # progress lines when not on a terminal
    applied = cli.invoke(args=["import", "acme", str(edited), "--apply", "--reason", "t"])
    assert applied.exit_code == 0 and "applied as revision" in applied.stdout
    revision = int(applied.stdout.rsplit("revision ", 1)[1])
    diff = cli.invoke(args=["diff", "acme", str(revision - 1), str(revision)])
    assert diff.stdout == "+ p, user:acme:alice, acme/amazon-us, reports, export, allow\n"
    clean = cli.invoke(args=["lint", str(edited)])
    assert clean.exit_code == 0, clean.output
    broken = tmp_path / "broken.csv"
    broken.write_text(exported + "p, user:acme:alice, acme/amazon-us, staff, manage, allow\n")
    report = cli.invoke(args=["lint", str(broken), "--tenant", "acme"])
    assert report.exit_code == 1 and "error [invalid]" in report.stdout


def test_export_json_is_the_api_one_and_imports_back(cli, client, tmp_path):
    """The CLI's import --apply, with and without a read in its plan, and a write after it
    (the second operation is where the applied-import defect showed)."""
    assert client.patch("/v1/tenants/acme/subaccounts/alice", json={"note": "from the cli"},
                        headers=bearer(ACME_OWNER)).status_code == 200
    result = cli.invoke(args=["export", "acme", "--json"])
    assert result.exit_code == 0, result.output
    import json

    document = json.loads(result.stdout)
    api = client.get("/v1/tenants/acme/export.json", headers=bearer(ACME_OWNER)).get_json()
    assert document["csv"] == api["csv"] and document["directory"] == api["directory"]
    document["directory"]["accounts"]["alice"]["note"] = "restored"
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(document))
    applied = cli.invoke(args=["import", "acme", str(path), "--apply"])
    assert applied.exit_code == 0, applied.output
    alice = client.get("/v1/tenants/acme/subaccounts/alice", headers=bearer(ACME_OWNER))
    assert alice.get_json()["note"] == "restored"
    assert client.post("/v1/tenants/acme/stores", json={"store": "after-cli"},
                       headers=bearer(ACME_OWNER)).status_code == 201
    path.write_text("{not json")
    assert cli.invoke(args=["import", "acme", str(path)]).exit_code == 1
