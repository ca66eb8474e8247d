"""API keys: `<key id>.<secret>` tokens, kept only as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

OWNER = "owner"  # edits its tenant's policy
AUDIT = "audit"  # reads its tenant's policy, ledger and decision log; can write nothing
CHECK = "check"  # asks /check for its tenant's decisions; can write nothing
SCOPES = (OWNER, AUDIT, CHECK)
READERS = (OWNER, AUDIT)  # who may read a tenant's policy and its history

KEY_ID = r"[a-z0-9-]{1,64}"
_TOKEN = re.compile(rf"({KEY_ID})\.([A-Za-z0-9_-]{{16,128}})")
_KEY_ID = re.compile(KEY_ID)


def is_key_id(value: str) -> bool:
    return _KEY_ID.fullmatch(value) is not None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh (key id, token)."""
    key_id = "k-" + secrets.token_hex(6)
    return key_id, f"{key_id}.{secrets.token_urlsafe(32)}"


def key_id_of(token: str) -> str | None:
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    tenant: str
    scope: str
    secret_hash: str
    valid_until: float | None = None  # epoch seconds; None: until revoked


@dataclass(frozen=True)
class Principal:
    """Who is calling: the platform admin (every tenant) or one tenant's key."""

    key_id: str
    scope: str  # "admin" or one of SCOPES
    tenant: str | None  # None for the admin

    def describe(self) -> str:
        return f"{self.scope}:{self.key_id}"
