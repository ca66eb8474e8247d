"""gunicorn settings for the service. PORT and WEB_CONCURRENCY override the defaults."""

import os

bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8080')}")
# Sync workers: each is one process with its own policy copy, so pycasbin (whose matcher
# evaluation is not thread-safe on Python 3.11) never runs in two threads at once.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
accesslog = "-"


def when_ready(server):
    """In development mode, print the fixed keys and a first request to try."""
    from service import config

    settings = config.resolve()
    if settings["AUTHZ_MODE"] != "development":
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
