"""The TypeScript client, its Express middleware and the Express example storefront, under
Node's own test runner (clients/typescript/test/): each test file starts the real service
from this virtualenv. Here so that `make test` runs them on its cores with the rest."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from harness.servers import ROOT

CLIENT = ROOT / "clients" / "typescript"

pytestmark = pytest.mark.slow


def test_the_typescript_client_passes_its_node_tests():
    assert (CLIENT / "node_modules").is_dir(), "run `make node` to install the client's packages"
    result = subprocess.run(["npm", "test", "--silent"], cwd=CLIENT, capture_output=True,
                            text=True, timeout=600,
                            env={**os.environ, "AUTHZ_PYTHON": sys.executable})
    said = result.stdout[-12000:] + result.stderr[-4000:]
    assert result.returncode == 0, said
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.M)
    failed = re.search(r"^# fail (\d+)$", result.stdout, re.M)
    # every file ran its tests: the client, the middleware, the types and the example
    assert passed and int(passed.group(1)) >= 30 and failed and failed.group(1) == "0", said
