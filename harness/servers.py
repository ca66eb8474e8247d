"""Real gunicorn instances for propagation and fault tests (and bench/propagation.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def answers(url: str, timeout: float) -> bool:
    """Whether `url` answers 2xx within `timeout` seconds, asked every 0.1 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).ok:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    """One gunicorn master with `workers` sync workers serving the app on a free port."""

    def __init__(self, database_url: str, workers: int = 2, root: Path = ROOT, **env):
        self.root = root  # the checkout served (bench: another revision's worktree)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PORT": str(self.port), "WEB_CONCURRENCY": str(workers),
                    "AUTHZ_DATABASE_URL": database_url, "AUTHZ_MODE": "development",
                    **{k: str(v) for k, v in env.items()}}
        self.start()

    def start(self) -> None:
        """Start gunicorn (again, after kill(): on the same port)."""
        self.process = subprocess.Popen(
            [BIN / "gunicorn", "--config", "gunicorn.conf.py", "service:create_app()"],
            cwd=self.root, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_ready()

    def kill(self) -> None:
        """SIGKILL the master and its workers at once: a machine that vanished."""
        pids = self.worker_pids()
        self.process.kill()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)

    def wait_ready(self, timeout: float = 30) -> None:
        if not answers(self.url + "/health", timeout):
            raise RuntimeError("gunicorn did not start")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                             text=True).stdout
        return [int(x) for x in out.split()]

    def kill_worker(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


def init_database(database_url: str) -> None:
    subprocess.run([BIN / "flask", "--app", "service", "init-db", "--seed"], cwd=ROOT,
                   env={**os.environ, "AUTHZ_DATABASE_URL": database_url}, check=True,
                   capture_output=True)


class Proxy:
    """A TCP proxy in front of PostgreSQL that a test can cut and restore."""

    def __init__(self, target_port: int = 5432):
        self.port = free_port()
        self.target = ("127.0.0.1", target_port)
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self.up()

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and cut every open one."""
        with self._lock:
            server, self._server = self._server, None
            conns, self._conns = self._conns, []
        if server is not None:
            # close() alone does not wake a thread blocked in accept(): the socket would
            # keep listening until one more connection came in.
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._server is not server:  # cut while this one was being accepted
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


def seeded_sqlite_instance(directory: Path, **env) -> Instance:
    """gunicorn serving the seed policy from a fresh SQLite file in `directory`."""
    url = f"sqlite:///{directory / 'authz.db'}"
    init_database(url)
    return Instance(url, **env)


class HAProxy:
    """HAProxy (Debian's package) with the documented deploy/haproxy.cfg in front of one
    gunicorn instance, or of several: one server line each (app1, app2, ...)."""

    def __init__(self, upstream: Instance | list[Instance], workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        upstreams = upstream if isinstance(upstream, list) else [upstream]
        env = {**os.environ, "AUTHZ_PROXY_BIND": f"127.0.0.1:{self.port}",
               "AUTHZ_UPSTREAM": f"127.0.0.1:{upstreams[0].port}", "AUTHZ_WORKERS": str(workers)}
        config = ROOT / "deploy" / "haproxy.cfg"
        if len(upstreams) > 1:
            text = config.read_text()
            line = '    server app "${AUTHZ_UPSTREAM}"\n'
            assert line in text, "deploy/haproxy.cfg no longer has its server line"
            servers = "".join(f"    server app{i} 127.0.0.1:{u.port}\n"
                              for i, u in enumerate(upstreams, start=1))
            self._config = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
            self._config.write(text.replace(line, servers))
            self._config.close()
            config = Path(self._config.name)
        self.process = subprocess.Popen(["haproxy", "-db", "-f", str(config)],
                                        env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        if not answers(self.url + "/ready", 20):
            self.stop()
            raise RuntimeError("haproxy did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def scratch_database(prefix: str = "authz_scratch") -> Iterator[str]:
    """A new, empty PostgreSQL database on the local server (PG_ADMIN_URL's), dropped at
    the end: its URL."""
    from sqlalchemy import create_engine, text

    from harness import PG_ADMIN_URL

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def idle_and_slow_clients(port: int, idle: int = 200, slow: int = 50) -> Iterator[None]:
    """While the block runs: `idle` connections to `port` that never send a byte, and
    `slow` ones sending a /check request one byte a second (in place when it starts)."""
    request = (b"POST /check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100\r\n\r\n{")
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(idle)]
    trickling = [socket.create_connection(("127.0.0.1", port)) for _ in range(slow)]
    stop = threading.Event()

    def trickle() -> None:
        for byte in range(len(request)):
            if stop.wait(1.0):
                return
            for s in trickling:
                try:
                    s.sendall(request[byte:byte + 1])
                except OSError:
                    pass

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        time.sleep(1.5)  # every slow client has begun its request
        yield
    finally:
        stop.set()
        sender.join()
        for s in held + trickling:
            s.close()

