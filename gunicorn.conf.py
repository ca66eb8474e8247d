"""gunicorn settings for the service. PORT and WEB_CONCURRENCY override the defaults."""

import os
import shutil
import tempfile

bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8080')}")
# Sync workers: each is one process with its own policy copy, so pycasbin (whose matcher
# evaluation is not thread-safe on Python 3.11) never runs in two threads at once.
# AUTHZ_WORKER=async: uvicorn's worker with checks answered on its event loop and every
# other request on one thread (service/api/asgi.py), one request at a time all the same.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = {"sync": "sync", "async": "service.worker.Worker"}[
    os.environ.get("AUTHZ_WORKER", "async")]
# The service writes one JSON line per request itself (service/runtime/telemetry.py).
accesslog = None

# Every worker writes its metrics to files here; /metrics, whichever worker answers, reads
# them all. Set before any worker imports prometheus_client; a fresh directory per start.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="authz-metrics-")


def on_starting(server):
    """Refuse to serve a database whose policy head is behind its ledger (workers would
    disagree on the revision and every write would conflict). Read with a plain engine:
    an app built here, in the master, would show up in every worker's metrics."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from service import serving_url
    from service import config
    from service.storage import policy_store

    engine = create_engine(serving_url(config.resolve().database_url))
    try:
        with engine.connect() as connection:
            problem = policy_store.head_problem(connection)
    except SQLAlchemyError:
        problem = None  # no database or no tables yet: workers report it on /ready
    finally:
        engine.dispose()
    if problem:
        raise SystemExit(f"refusing to start: {problem}")


def child_exit(server, worker):
    """A dead worker's live gauges (its revision, lag, policy age) leave /metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def when_ready(server):
    """In development mode, print the fixed keys and a first request to try."""
    from service import config

    settings = config.resolve()
    if settings.production:
        return
    acme = config.DEV_TENANT_KEYS["acme"]
    server.log.info(
        "development mode: fixed keys (never use them in production)\n"
        "  admin key:           %s\n  acme owner key:      %s\n  acme check token:    %s\n"
        "try:\n  curl -s http://%s/check -H 'Authorization: Bearer %s' "
        "-H 'Content-Type: application/json' -d '{\"subject\": \"alice\", \"store\": "
        "\"amazon-us\", \"object\": \"orders\", \"action\": \"view\"}'",
        config.DEV_ADMIN_KEY, acme["owner"], acme["check"], bind, acme["check"],
    )
