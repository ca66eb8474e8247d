"""Which gunicorn worker count serves /check best here: sync workers, 1 to 4, on the
small scale, loaded by wrk like bench/run.py. Prints a table.

    .venv/bin/python -m bench.workers
"""

from __future__ import annotations

import json
import random

from bench.generate import MARKETS, tenants
from bench.run import ADMIN, database, wrk
from harness.servers import Instance


def main() -> None:
    url = database("small")
    rng = random.Random(3)
    bodies = [json.dumps({"tenant": rng.choice(tenants("small")),
                          "subject": f"staff-{rng.randrange(99):02d}",
                          "store": rng.choice(MARKETS), "object": "orders", "action": "view"})
              for _ in range(50)]
    print("| sync workers | /check req/s | p99 ms |")
    print("|---:|---:|---:|")
    for workers in (1, 2, 3, 4):
        instance = Instance(url, workers=workers)
        try:
            wrk(instance.url + "/check", bodies[:5], {"Authorization": f"Bearer {ADMIN}"}, 2)
            r = wrk(instance.url + "/check", bodies, {"Authorization": f"Bearer {ADMIN}"}, 8)
        finally:
            instance.stop()
        print(f"| {workers} | {r['rps']:,.0f} | {r['p99_ms']:.2f} |")


if __name__ == "__main__":
    main()
