"""A head behind its ledger, refused at start by a real gunicorn and repaired by init-db
(issue 16; the rest: tests/api/test_write_integrity.py)."""

from __future__ import annotations

import subprocess

from harness.servers import BIN, ROOT


def test_a_head_behind_its_ledger_is_refused_at_start_and_repaired_by_init_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'authz.db'}"
    env = {"AUTHZ_DATABASE_URL": url, "PATH": str(BIN), "PORT": "1"}
    subprocess.run([BIN / "flask", "--app", "service", "init-db", "--seed"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    import sqlite3

    with sqlite3.connect(tmp_path / "authz.db") as connection:  # the state the defect left
        connection.execute("UPDATE tenant_head SET revision = revision - 1 "
                           "WHERE tenant = 'globex'")
    started = subprocess.run([BIN / "gunicorn", "--config", "gunicorn.conf.py",
                              "service:create_app()"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert ("tenant globex's head is at revision 0 but its ledger holds revision 1"
            in started.stderr)
    subprocess.run([BIN / "flask", "--app", "service", "init-db"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    with sqlite3.connect(tmp_path / "authz.db") as connection:
        head = connection.execute("SELECT revision FROM tenant_head "
                                  "WHERE tenant = 'globex'").fetchone()[0]
        logged = connection.execute("SELECT max(revision) FROM revision_log "
                                    "WHERE tenant = 'globex'").fetchone()[0]
    assert head == logged == 1
