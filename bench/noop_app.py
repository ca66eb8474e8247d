"""The baseline: an endpoint that reads a JSON body and answers JSON, doing nothing else,
served by the same gunicorn configuration as the service (`gunicorn.conf.py`, whose
worker is uvicorn's by default: `asgi`, a raw ASGI app, is served on it as the service's
checks are, on the event loop; AUTHZ_WORKER=sync: `create_app()`, a Flask app)."""

import json

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/noop")
    def noop():
        request.get_json()
        return {"allowed": False, "revision": 0}

    return app


ANSWER = json.dumps({"allowed": False, "revision": 0}).encode()


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    json.loads(body)
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]})
    await send({"type": "http.response.body", "body": ANSWER})


def command(python_bin) -> list:
    """The gunicorn command line that serves the baseline as the service is served."""
    import os

    if os.environ.get("AUTHZ_WORKER", "async") == "sync":
        return [python_bin / "gunicorn", "--config", "gunicorn.conf.py",
                "bench.noop_app:create_app()"]
    return [python_bin / "gunicorn", "--config", "gunicorn.conf.py", "--worker-class",
            "uvicorn.workers.UvicornWorker", "bench.noop_app:asgi"]
