"""`flask --app service ...` commands."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app

from . import seeding


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)


@click.command("init-db")
@click.option("--seed", "seed", is_flag=True, help="Load AUTHZ_SEED_PATH into an empty database.")
@click.option("--seed-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Load this CSV instead of AUTHZ_SEED_PATH.")
def init_db_command(seed: bool, seed_file: str | None) -> None:
    """Create the tables; with --seed, load the seed policy if the database has no rules."""
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
