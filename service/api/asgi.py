"""The service as an ASGI app, for gunicorn's default worker (service/worker.py: uvicorn's,
on uvloop and httptools; AUTHZ_WORKER=sync serves the WSGI app on gunicorn's own).

The event loop reads every request, so a slow or idle client holds no thread. A check the
fast path answers from memory (api/fast_check.FastCheck.answer) is answered on the loop,
with no thread hop. Everything else - every other route, and what the fast path defers: a
tenant to load, a revision to wait for, an approval to use - runs through the whole WSGI
stack (request log, fast path, Flask) on the worker's one request thread, as the sync
worker runs it. The loop answers a check only while that thread is idle (the request
lock, taken without waiting): the replica and the decider (runtime/replica.py,
domain/decider.py) see one request at a time, as under the sync worker; a check that
finds the thread busy waits its turn behind it. With tracing on, every request takes the
thread (its spans are made by the WSGI stack).
"""

from __future__ import annotations

import asyncio
import io
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from ..runtime import tracing


class AsgiService:
    def __init__(self, app):
        self.app = app
        self.stack = app.wsgi_app  # ([tracing] ->) request log -> fast path -> Flask
        self.fast = app.extensions["fast_check"]
        self.log = app.extensions["request_log"]
        self.max_body = app.config["MAX_CONTENT_LENGTH"]
        self.lock = threading.Lock()  # the request thread's: one request at a time
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="authz-request")
        self.on_loop = not tracing.enabled()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return None  # (no websockets here)
        body = await self._body(receive)
        if self.on_loop and scope["method"] == "POST" and self.lock.acquire(blocking=False):
            try:
                answered = self._on_loop(_check_environ(scope, body))
            finally:
                self.lock.release()
            if answered is not None:
                return await _send(send, 200, *answered)
        status, headers, data = await asyncio.get_running_loop().run_in_executor(
            self.thread, self._on_thread, _environ(scope, body))
        return await _send(send, status, headers, data)

    def _on_loop(self, environ):
        """(headers, body) of a check answered from memory, or None (nothing logged: the
        whole stack answers it, from its whole environ, and logs it)."""
        request_id, started = self.log.begin(environ)
        answered = self.fast.answer(environ)
        if answered is None:
            return None
        data, headers = answered
        headers.append(("X-Request-ID", request_id))
        self.log.end(environ, request_id, started, 200)
        return headers, data

    def _on_thread(self, environ) -> tuple[int, list, bytes]:
        with self.lock:
            started: dict = {}

            def start_response(status, headers, exc_info=None):
                started["status"], started["headers"] = int(status[:3]), headers

            chunks = self.stack(environ, start_response)
            try:
                data = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            return started["status"], started["headers"], data

    async def _body(self, receive) -> bytes:
        """The request's body, read on the loop; past the app's limit only counted (the
        WSGI stack answers 413 from the length), never kept."""
        parts, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= self.max_body + 1:
                parts.append(chunk)
            more = message.get("more_body", False)
        return b"".join(parts)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.thread.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


_KEYS: dict[bytes, str] = {}  # a header's name -> its environ key (the names a client sends)


def _key(name: bytes) -> str:
    key = name.decode("latin-1").upper().replace("-", "_")
    if key != "CONTENT_TYPE" and key != "CONTENT_LENGTH":
        key = "HTTP_" + key
    if len(_KEYS) < 512:  # (any client may send any names: the table stays small)
        _KEYS[name] = key
    return key


def _header(environ: dict, name: bytes, value: bytes) -> None:
    key = _KEYS.get(name) or _key(name)
    text = value.decode("latin-1")
    if key in environ and key[0] == "H":  # a repeated header: joined, as PEP 3333 says
        environ[key] = f"{environ[key]},{text}"
    else:
        environ[key] = text


_CHECK_HEADERS = frozenset((b"content-type", b"content-length", b"authorization",
                            b"x-request-id"))  # what the fast path reads (api/fast_check.py)


def _check_environ(scope, body: bytes) -> dict:
    """The part of the WSGI environ the fast path reads, for a check answered on the loop
    (the whole environ costs as much again, and only a deferred request needs it). Headers
    as _environ reads them: the same names, a repeated one joined."""
    environ = {"REQUEST_METHOD": scope["method"], "PATH_INFO": scope["path"],
               "QUERY_STRING": scope["query_string"].decode("latin-1"),
               "wsgi.input": io.BytesIO(body)}
    for name, value in scope["headers"]:
        if name in _CHECK_HEADERS:
            _header(environ, name, value)
    if "CONTENT_LENGTH" not in environ and body:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def _environ(scope, body: bytes) -> dict:
    """The WSGI environ of an ASGI HTTP request (PEP 3333, as uvicorn's own adapter)."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ = {
        "REQUEST_METHOD": scope["method"], "SCRIPT_NAME": scope.get("root_path", ""),
        "PATH_INFO": scope["path"], "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": server[0], "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}", "REMOTE_ADDR": client[0],
        "wsgi.version": (1, 0), "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    for name, value in scope["headers"]:
        _header(environ, name, value)
    if "CONTENT_LENGTH" not in environ and body:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


async def _send(send, status: int, headers: list, data: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                            for k, v in headers]})
    await send({"type": "http.response.body", "body": data})
