"""The JSON of a decision, written once for the fast path and the Flask views alike.

An answer is `{"allowed": ..., "reason": <code>, "requires": ...}` (R23). Codes and what
they require are a small fixed set, so each answer's text is made once and kept.
"""

from __future__ import annotations

import json

from ..domain import reasons as W

_ITEMS: dict[tuple[str, str | None], str] = {}


def item(code: str, requires: str | None) -> str:
    """One check's answer as JSON text (a batch's result)."""
    text = _ITEMS.get((code, requires))
    if text is None:
        text = _ITEMS[(code, requires)] = json.dumps(
            {"allowed": code == W.GRANTED, "reason": code, "requires": requires},
            separators=(",", ":"))
    return text


GRANTED = item(W.GRANTED, None)


def headers(revision: int | None, age: float | None) -> list[tuple[str, str]]:
    """What every decision's answer carries beside its body, on both paths: the tenant's
    revision it was decided at, and how long since this worker last confirmed it is
    current (it keeps answering from its last state while the database is unreachable)."""
    out = []
    if revision is not None:
        out.append(("X-Policy-Revision", str(revision)))
    if age is not None:
        out.append(("X-Policy-Age", f"{age:.3f}"))
    return out


def single(code: str, requires: str | None, revision: int, extra: str = "") -> str:
    """A /check answer: the item and the revision it was decided at (and `extra`, JSON
    members to add, e.g. the approval's id)."""
    return f'{item(code, requires)[:-1]},"revision":{revision}{extra}}}'
