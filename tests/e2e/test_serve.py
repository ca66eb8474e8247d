"""What `make run` serves: gunicorn on the seed policy answers the README's curl example."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..support import ROOT

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_example() -> tuple[str, str]:
    """The README's /check curl command and the answer it documents."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"```sh\n(curl -s http://127\.0\.0\.1:8080/check.*?)\n# (\{.*?\})\n```",
                      text, re.S)
    assert match, "README lost its /check example"
    return match.group(1), match.group(2)


@pytest.mark.slow
def test_gunicorn_on_the_seed_answers_the_readme_example(tmp_path):
    port = free_port()
    # a folder that does not exist yet, like instance/ in a fresh clone
    env = {**os.environ, "PORT": str(port),
           "AUTHZ_DATABASE_URL": f"sqlite:///{tmp_path}/instance/a.db"}
    subprocess.run([BIN / "flask", "--app", "service", "init-db", "--seed"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    server = subprocess.Popen([BIN / "gunicorn", "--config", "gunicorn.conf.py",
                               "service:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        command, documented = readme_example()
        command = command.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            out = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
            if out.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert out.stdout.strip() == documented
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert b"development mode: fixed keys" in err  # the keys are printed at start-up
