"""This tree against another revision on the same database, interleaved: /check/batch
decisions/s, /check and the do-nothing endpoint, round by round, and the ratio of the
medians. What a budget set as "at least X (Y now)" asks on a machine whose speed moves by
a third between runs: the same load, on both codes, at the same moments.

    python -m bench.ab --base 93cb501 --scale large --rounds 3

The base is checked out with `git worktree` into a temporary folder and run with this
tree's Python and gunicorn (harness.servers.BIN); the bench database is this tree's
(bench.run.database), which the base serves as it is. Each round starts each code's
gunicorn (bench.run.http of that tree), warms it, and measures for `--seconds`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run import PY, ROOT, database

MEASURE = """
import json, sys
from bench.run import http
r = http(sys.argv[1], sys.argv[2], int(sys.argv[3]))
print(json.dumps({k: r[k]["rps"] for k in ("check", "batch", "noop")}))
"""


def measure(tree: Path, url: str, scale: str, seconds: int) -> dict:
    out = subprocess.run([PY, "-c", MEASURE, url, scale, str(seconds)], cwd=tree,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="the revision to compare against")
    parser.add_argument("--scale", default="large")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    url = database(args.scale)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), args.base],
                       cwd=ROOT, check=True)
        try:
            runs: dict[str, list[dict]] = {"base": [], "this": []}
            for n in range(args.rounds):
                for name, tree in (("base", base), ("this", ROOT)):
                    print(f"round {n + 1}: {name}...", file=sys.stderr)
                    runs[name].append(measure(tree, url, args.scale, args.seconds))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT,
                           check=False)
    print(f"\n{args.scale}, {args.rounds} interleaved rounds of {args.seconds} s each, "
          f"base {args.base}\n")
    print("| round | code | /check/batch decisions/s | /check req/s | do-nothing req/s "
          "| /check vs do-nothing |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in range(args.rounds):
        for name in ("base", "this"):
            r = runs[name][n]
            print(f"| {n + 1} | {name} | {r['batch'] * 100:,.0f} | {r['check']:,.0f} "
                  f"| {r['noop']:,.0f} | {r['check'] / r['noop']:.2f}x |")
    medians = {name: statistics.median(r["batch"] for r in found) * 100
               for name, found in runs.items()}
    print(f"\nmedian /check/batch: base {medians['base']:,.0f}, this {medians['this']:,.0f} "
          f"decisions/s: this / base = {medians['this'] / medians['base']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
