"""Per-key write rate limit: a fixed window per API key, counted in Redis when
AUTHZ_RATE_LIMIT_REDIS_URL is set (shared by every worker and instance), else in this
process (each worker counts alone, so the effective limit is the limit times the workers).

Only writes are limited: a check never waits on a counter. If Redis cannot be reached the
write is let through and a warning logged: every write is still authenticated and
authorised, and refusing all writes because a counter is down would be an outage.
"""

from __future__ import annotations

import logging
import re
import threading
import time

from ..domain.errors import TooManyRequests

log = logging.getLogger(__name__)

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(second|minute|hour)\s*")
_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


def parse(spec: str) -> tuple[int, int]:
    """"120/minute" -> (120, 60). Raises ValueError on anything else."""
    match = _SPEC.fullmatch(spec)
    if not match or int(match.group(1)) < 1:
        raise ValueError("must look like <count>/<second|minute|hour>, count >= 1")
    return int(match.group(1)), _SECONDS[match.group(2)]


class WriteLimiter:
    def __init__(self, spec: str, redis_url: str | None = None):
        self.limit, self.window = parse(spec)
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=0.2,
                                               socket_connect_timeout=0.2)
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one write by `key`; raise TooManyRequests past the limit."""
        now = time.time()
        window = int(now // self.window)
        count = self._count(key, window)
        if count is not None and count > self.limit:
            retry_after = max(1, int((window + 1) * self.window - now + 0.999))
            raise TooManyRequests(
                f"more than {self.limit} writes in {self.window} s by this key; retry later",
                retry_after)

    def _count(self, key: str, window: int) -> int | None:
        if self._redis is not None:
            name = f"authz:writes:{key}:{window}"
            try:
                pipe = self._redis.pipeline()
                pipe.incr(name)
                pipe.expire(name, self.window + 1)
                return int(pipe.execute()[0])
            except Exception:  # noqa: BLE001 - any Redis failure: let the write through
                log.warning("rate-limit counter unavailable; write not limited",
                            exc_info=True)
                return None
        with self._lock:
            if len(self._counts) > 10_000:  # drop past windows: bounded memory
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts[key, window] = self._counts.get((key, window), 0) + 1
            return count
