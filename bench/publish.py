"""`make bench-publish`: publishing an app's next catalogue version to every tenant that
installed it (issue 27: 2,000 tenants in at most 10 s), in process on PostgreSQL.

The tenants are the bench's `large` scale (2,000 tenants of about 820 rules). The first
run registers the app and installs it in every tenant (a write each); every run then
publishes one new version (a permission added), which is one revision per tenant after a
check of every tenant's change, and prints the wall time and what it cost per tenant.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.generate import tenants
from bench.run import database
from service import create_app
from service.domain.keys import ADMIN, OWNER, Caller
from service.storage import apps_store
from service.usecases import apps

APP = "bench-metrics"
ADMIN_CALLER = Caller("bench", ADMIN, None)


def _version(n: int) -> dict:
    """Version `n`: `n` permissions (each version adds one)."""
    return {"permissions": [{"name": f"report{i}:view", "description": {
        "en": f"Report {i}", "zh-CN": f"报表 {i}"}} for i in range(n)]}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.publish")
    parser.add_argument("--scale", default="large")
    args = parser.parse_args()
    url = database(args.scale)
    names = tenants(args.scale)
    app = create_app({"AUTHZ_DATABASE_URL": url, "AUTHZ_LISTEN": False,
                      "AUTHZ_WRITE_RATE_LIMIT": "1000000/minute", "AUTHZ_REQUEST_LOG": False,
                      "AUTHZ_DECISION_LOG": False})
    with app.app_context():
        service = app.extensions["authz"]
        if apps_store.latest(APP) is None:
            print(f"registering {APP} and installing it in {len(names)} tenants...",
                  file=sys.stderr)
            if apps_store.describe(APP) is None:
                apps.register(service, ADMIN_CALLER, APP, {"en": "Metrics", "zh-CN": "指标"})
            apps.publish(service, ADMIN_CALLER, APP, _version(2))
        installed = apps_store.installed_versions(APP)
        for tenant in names:
            if tenant not in installed:
                apps.install(service, Caller("bench", OWNER, tenant), tenant, APP)
        installed = apps_store.installed_versions(APP)
        latest = apps_store.latest(APP)
        started = time.perf_counter()
        cpu = time.process_time()
        answer = apps.publish(service, ADMIN_CALLER, APP, _version(latest.version + 2))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    upgraded, failed = len(answer["tenants"]), len(answer["failed"])
    print(f"\nin process, PostgreSQL, {args.scale}: {len(installed)} tenants installed "
          f"{APP}\n")
    print("| publish | tenants | wall s | ms per tenant | service CPU s |")
    print("|---|---:|---:|---:|---:|")
    print(f"| version {answer['version']} | {len(installed)} ({upgraded} upgraded, "
          f"{failed} failed) | "
          f"{wall:.1f} | {1000 * wall / max(1, len(installed)):.2f} | {cpu:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
