"""The service's one clock for the instants a decision or a write compares: a grant's end,
an approval's, a write's `expires_at`.

Read through here and never from `time.time()` directly, so that a test can move time in
every process it starts (AUTHZ_TEST_CLOCK, refused in production mode): the file it names
holds a number of seconds added to the host's clock, and it is read again on every call,
so a write to it is seen at once by every worker. Without it, `now()` is `time.time`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

_offset_file: Path | None = None
_last = 0.0  # the offset last read (kept while the file is being rewritten)


def use_offset_file(path: str | Path | None) -> None:
    """Add the seconds written in `path` to every reading (None: the host's clock)."""
    global _offset_file, now
    _offset_file = None if path is None else Path(path)
    # Without a file, now() is time.time itself: read on every decision, it costs no
    # extra call there.
    now = time.time if _offset_file is None else _offset_now


def offset() -> float:
    global _last
    if _offset_file is None:
        return 0.0
    try:
        _last = float(_offset_file.read_text().strip())
    except (OSError, ValueError):
        pass  # (being rewritten: time never moves back for it)
    return _last


def _offset_now() -> float:
    return time.time() + offset()


now = time.time  # Unix seconds (use_offset_file may move it)


def utcnow() -> datetime:
    return datetime.fromtimestamp(now(), UTC)


def unix_seconds(text: str) -> float:
    """An end as stored (tenant_policy.expiry_text) in Unix seconds, the clock's unit."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
