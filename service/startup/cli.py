"""`flask --app service ...` commands: the database, tenants, keys, export, import, ledger.

Commands act as the platform admin (recorded as `admin:cli` in the ledger) through
the same functions as the API.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ..domain import policy_files as PF
from ..domain import rules as R
from ..domain.errors import InvalidInput, ServiceError
from ..domain.keys import ADMIN, Caller
from ..storage import ledger, policy_store
from ..usecases import policy_files, tenant_admin
from . import seeding
from .progress import progress

CLI_ADMIN = Caller("cli", ADMIN, None)


def init_app(app: Flask) -> None:
    for command in (init_db_command, create_tenant_command, new_key_command,
                    revoke_key_command, export_command, import_command, diff_command,
                    lint_command, verify_ledger_command):
        app.cli.add_command(command)


def _service():
    service = current_app.extensions["authz"]
    service.replica.catch_up(force=True)
    return service


def _run(action):
    """Run `action`, turning a refused change into a clear message and exit status 1."""
    try:
        return action()
    except ServiceError as exc:
        raise click.ClickException(f"{exc.message} {exc.errors or ''}".strip()) from None


@click.command("init-db")
@with_appcontext
@click.option("--seed", "seed", is_flag=True, help="Load AUTHZ_SEED_PATH into an empty database.")
@click.option("--seed-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Load this CSV instead of AUTHZ_SEED_PATH.")
def init_db_command(seed: bool, seed_file: str | None) -> None:
    """Apply the migrations; with --seed, load the seed policy if the database has no rules."""
    seeding.init_db()
    click.echo("database ready")
    if not (seed or seed_file):
        return
    if not seeding.is_empty():
        click.echo("policy already present; seed not loaded")
        return
    path = Path(seed_file or current_app.config["AUTHZ_SEED_PATH"])
    dev = current_app.config["AUTHZ_MODE"] == "development"
    created = seeding.load_seed(path.read_text(encoding="utf-8"), path.name, dev_keys=dev)
    for tenant, tokens in created.items():
        for scope, token in tokens.items():
            click.echo(f"tenant {tenant}: {scope} key {token}")


@click.command("create-tenant")
@with_appcontext
@click.argument("tenant")
@click.option("--name", default="", help="Display name.")
def create_tenant_command(tenant: str, name: str) -> None:
    """Create a tenant with the built-in roles; print its owner key and check key once."""
    revision, created = _run(lambda: tenant_admin.create_tenant(
        _service(), CLI_ADMIN, tenant, name))
    click.echo(f"tenant {tenant} created at revision {revision}")
    click.echo(f"owner key: {created['owner_key']}")
    click.echo(f"check key: {created['check_key']}")


@click.command("new-key")
@with_appcontext
@click.argument("tenant")
@click.option("--scope", type=click.Choice(["owner", "check"]), required=True)
@click.option("--replaces", default=None, help="Key id this one rotates out.")
@click.option("--overlap-seconds", type=int, default=86_400, show_default=True,
              help="How long the replaced key keeps working.")
def new_key_command(tenant: str, scope: str, replaces: str | None,
                    overlap_seconds: int) -> None:
    """Create a key (or rotate one with --replaces); print the token once."""
    revision, created = _run(lambda: tenant_admin.create_key(
        _service(), CLI_ADMIN, tenant, scope, replaces, overlap_seconds))
    click.echo(f"{scope} key {created['key_id']} at revision {revision}: {created['token']}")
    if created["replaced"]:
        old = created["replaced"]
        click.echo(f"{old['key_id']} keeps working until {old['valid_until']}")


@click.command("revoke-key")
@with_appcontext
@click.argument("tenant")
@click.argument("key_id")
def revoke_key_command(tenant: str, key_id: str) -> None:
    """Revoke a key at once."""
    revision, _ = _run(lambda: tenant_admin.revoke_key(_service(), CLI_ADMIN, tenant, key_id))
    click.echo(f"{key_id} revoked at revision {revision}")


@click.command("export")
@with_appcontext
@click.argument("tenant")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write here instead of standard output.")
@click.option("--json", "as_json", is_flag=True,
              help="export.json: the CSV and what it does not hold (profiles, department "
                   "names, settings, expiries), to restore the tenant whole.")
def export_command(tenant: str, output: str | None, as_json: bool) -> None:
    """The tenant's rules as sorted Casbin CSV (read it with policies/model.conf)."""
    _run(lambda: _service().require_tenant(tenant))
    policy = policy_store.read(tenant)
    text = R.csv_text(policy.rules())
    if as_json:
        text = json.dumps({"tenant": tenant, "revision": policy.revision,
                           "csv": text, "directory": PF.directory_document(policy)},
                          indent=2, ensure_ascii=False) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@click.command("import")
@with_appcontext
@click.argument("tenant")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--apply", "apply_", is_flag=True,
              help="Apply it. Without: print the plan only (a dry run).")
@click.option("--reason", default=None, help="Kept in the ledger.")
def import_command(tenant: str, file: str, apply_: bool, reason: str | None) -> None:
    """Make the tenant's rules exactly FILE's: the rules added and removed and the
    decisions that change, then (with --apply) one atomic revision."""
    text = Path(file).read_text(encoding="utf-8")
    directory = None
    if file.endswith(".json"):  # export.json: the CSV and the directory beside it
        document = _run(lambda: _export_document(text))
        text, directory = document["csv"], document["directory"]
    plan = _run(lambda: policy_files.import_policy(
        _service(), CLI_ADMIN, tenant, text, dry_run=not apply_, reason=reason,
        source=Path(file).name, progress=lambda lines: progress(lines, "reading"),
        directory=directory))
    for line in plan["removed"]:
        click.echo(f"- {line}")
    for line in plan["added"]:
        click.echo(f"+ {line}")
    changes = plan["decision_changes"]
    for c in changes["items"]:
        click.echo(f"  {c['subject']} {c['store']} {c['permission']}"
                   f"{' (2FA)' if c['second_factor'] else ''}: "
                   f"{'allow' if c['before'] else 'deny'} -> {'allow' if c['after'] else 'deny'}")
    done = f"applied as revision {plan['revision']}" if apply_ else "dry run: nothing changed"
    click.echo(f"{len(plan['added'])} added, {len(plan['removed'])} removed, "
               f"{changes['total']} decisions change; {done}")


def _export_document(text: str) -> dict:
    """An export.json, checked by the import's own schema (the API's)."""
    from marshmallow import ValidationError

    from ..schemas.policy_files import ImportRequest

    try:
        raw = json.loads(text)
        return ImportRequest().load({"csv": raw.get("csv"), "directory": raw.get("directory")})
    except (ValueError, AttributeError, ValidationError) as exc:
        raise InvalidInput(f"not an export.json: {exc}") from None


@click.command("diff")
@with_appcontext
@click.argument("tenant")
@click.argument("start", type=int)
@click.argument("end", type=int)
def diff_command(tenant: str, start: int, end: int) -> None:
    """The tenant's rules added (+) and removed (-) from revision START to END."""
    answer = _run(lambda: policy_files.diff(_service(), CLI_ADMIN, tenant, start, end))
    for line in answer["removed"]:
        click.echo(f"- {line}")
    for line in answer["added"]:
        click.echo(f"+ {line}")


@click.command("lint")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--tenant", default=None, help="The tenant it is for (default: its first rule's).")
@click.option("--json", "as_json", is_flag=True, help="Findings as JSON.")
def lint_command(file: str, tenant: str | None, as_json: bool) -> None:
    """Check a policy file offline; exit status 1 if it has errors."""
    findings = policy_files.check_file(Path(file).read_text(encoding="utf-8"), tenant,
                                       Path(file).name)
    if as_json:
        click.echo(json.dumps(findings, indent=2))
    else:
        for f in findings:
            where = f"{Path(file).name}:{f['line']}" if f["line"] else Path(file).name
            click.echo(f"{where}: {f['severity']} [{f['code']}] {f['message']}")
    if any(f["severity"] == "error" for f in findings):
        raise SystemExit(1)


@click.command("verify-ledger")
@with_appcontext
def verify_ledger_command() -> None:
    """Recompute every hash chain of the change ledger; name the first broken entry of
    each broken chain (exit 1)."""
    result = ledger.verify()
    if result.ok:
        click.echo(f"ledger intact: {result.entries} entries in {result.chains} chains")
        return
    for broken in result.broken:
        click.echo(f"chain {broken.chain} BROKEN at tenant {broken.tenant} revision "
                   f"{broken.revision}: {broken.problem}", err=True)
    click.echo(f"{len(result.broken)} of {result.chains} chains broken", err=True)
    raise SystemExit(1)
