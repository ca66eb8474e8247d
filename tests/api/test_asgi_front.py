"""The event-loop worker's front (api/asgi.py) answers every decision request - the
ordinary ones on the loop, from the fast path's part of the environ, and every other on
the request thread through the whole WSGI stack - exactly as the WSGI stack (the sync
worker's) answers it."""

from __future__ import annotations

import asyncio
import json

import pytest
from werkzeug.test import Client

from service.api.asgi import AsgiService

from ..support import ACME_CHECK
from .test_fast_check import ALICE, AUTHZEN, CASES, _call

# A misspelled query parameter on each decision route: a 422 however it is answered.
QUERIES = [(ACME_CHECK, f"{path}?at_least_revison=1", body, "application/json")
           for path, body in (("/check", ALICE), ("/check/batch", {"checks": [ALICE]}),
                              ("/access/v1/evaluation", AUTHZEN))]


def _asgi(front: AsgiService, token: str, path: str, body, content_type: str,
          more: list[tuple[bytes, bytes]] = ()):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    path, _, query = path.partition("?")
    scope = {"type": "http", "method": "POST", "path": path, "root_path": "",
             "query_string": query.encode(), "http_version": "1.1", "scheme": "http",
             "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 40000),
             "headers": [(b"host", b"127.0.0.1:8080"), (b"content-type", content_type.encode()),
                         (b"authorization", f"Bearer {token}".encode()),
                         (b"content-length", str(len(data)).encode()), *more]}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(front(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return (sent[0]["status"], sent[1]["body"].decode(), headers.get("x-policy-revision"),
            headers.get("content-type"))


@pytest.fixture
def front(app):
    front = AsgiService(app)
    yield front
    front.thread.shutdown(wait=True)


@pytest.mark.parametrize("token,path,body,content_type", CASES + QUERIES)
def test_same_answer_as_the_wsgi_stack(app, front, token, path, body, content_type):
    for _ in range(2):  # the first may load the tenant (the thread); the second the loop
        assert _asgi(front, token, path, body, content_type) == \
            _call(Client(app.wsgi_app), token, path, body, content_type)


def test_a_repeated_authorization_header_is_refused_on_both_paths(app, front):
    """Two Authorization headers are joined, as PEP 3333 says, on the loop as on the
    thread: no second key is taken in place of the first."""
    assert _asgi(front, ACME_CHECK, "/check", ALICE, "application/json")[0] == 200  # held
    status, _, _, _ = _asgi(front, ACME_CHECK, "/check", ALICE, "application/json",
                            more=[(b"authorization", f"Bearer {ACME_CHECK}".encode())])
    assert status == 401
    assert _asgi(front, ACME_CHECK, "/access/v1/evaluation", AUTHZEN,
                 "application/json")[0] == 200
