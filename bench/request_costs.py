"""`python -m bench.request_costs`: what each /check pays beside its decision, in process,
against the decision itself (issue 28: each per-request cost below a decision's).

- decision: `Decider.answer_many` of one check on the seed's tenant (the decision alone);
- metrics: what a /check counts on its path (decisions, its duration, the request: into
  this process's memory; runtime/telemetry.py hands them to the shared metric files,
  PROMETHEUS_MULTIPROC_DIR set as gunicorn.conf.py sets it, off the path);
- request log: what a request does for its line on its path (queue its fields; the
  flush thread formats and writes them);
- decision log (R19): what a denied check does on its path (count it in the process's
  table; runtime/decision_log.py's thread writes the table);
- flush, per request: what the flush thread then spends on one request's counts and line
  (measured over a whole round's queue, written to a file);
- the whole fast path: the WSGI stack, request log and metrics included.

Interleaved rounds; each figure the best round's mean (noise only adds). A table; ratios
against the decision measured in the same run.
"""

from __future__ import annotations

import os
import tempfile

# as gunicorn.conf.py: before prometheus_client is imported anywhere
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="authz-metrics-"))

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from harness import ACME_CHECK  # noqa: E402
from harness.servers import init_database  # noqa: E402
from service import create_app  # noqa: E402
from service.domain.decider import CheckRequest  # noqa: E402
from service.runtime import telemetry  # noqa: E402

CHECK = json.dumps({"subject": "alice", "store": "amazon-us", "object": "orders",
                    "action": "view"}).encode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'authz.db'}"
        init_database(url)
        os.environ.update(AUTHZ_DATABASE_URL=url, AUTHZ_MODE="development")
        app = create_app()
        log = open(Path(scratch) / "requests.log", "w")  # noqa: SIM115
        app.wsgi_app.stream = log
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/check",
                   "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(CHECK)),
                   "HTTP_AUTHORIZATION": f"Bearer {ACME_CHECK}", "SERVER_NAME": "bench",
                   "SERVER_PORT": "80", "wsgi.url_scheme": "http"}

        def whole() -> None:
            app.wsgi_app({**environ, "wsgi.input": io.BytesIO(CHECK)},
                         lambda status, headers, exc_info=None: None)

        whole()  # the tenant loaded
        decider = app.extensions["authz"].decider
        request = CheckRequest("acme", "alice", "amazon-us", "orders", "view")
        line = ("0" * 32, "POST", "/check", 200, "acme", 0.000123)

        def decision() -> None:
            decider.answer_many((request,))

        def metrics() -> None:
            telemetry.count_decisions(1, 0)
            telemetry.observe_check("/check", 0.0001)
            telemetry.count_request("/check", "200")

        def request_log() -> None:
            app.wsgi_app._queued.append(line)

        decisions = app.extensions["authz"].decision_log
        denied = CheckRequest("acme", "alice", "shopee-sg", "orders", "view")

        def decision_log() -> None:
            decisions.record(denied, "not_assigned", 1)  # (every deny is kept)

        parts = {"decision (Decider.answer_many, one check)": decision,
                 "metrics of one /check, on its path (3 series)": metrics,
                 "request log, on its path (one line queued)": request_log,
                 "decision log, on its path (one deny counted)": decision_log,
                 "the whole fast path of one /check (WSGI, in process)": whole}
        flushed = "off the path: the flush thread, per request (counts and line)"
        best = {name: float("inf") for name in [*parts, flushed]}
        for _ in range(args.rounds):
            for name, call in parts.items():
                telemetry.flush()  # (each part starts with nothing queued)
                started = time.perf_counter()
                for _ in range(args.calls):
                    call()
                best[name] = min(best[name], (time.perf_counter() - started) / args.calls)
            telemetry.flush()
            for _ in range(args.calls):  # a round's counts and lines, then one flush of them
                metrics()
                request_log()
            started = time.perf_counter()
            telemetry.flush()
            best[flushed] = min(best[flushed], (time.perf_counter() - started) / args.calls)
        log.close()
    base = best["decision (Decider.answer_many, one check)"]
    print(f"\n{args.rounds} interleaved rounds of {args.calls:,} calls; best round's mean\n")
    print("| per /check | us | vs the decision |")
    print("|---|---:|---:|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds * 1e6:.2f} | {seconds / base:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
