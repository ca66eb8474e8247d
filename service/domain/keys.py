"""API keys: `<key id>.<secret>` tokens, kept only as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

OWNER = "owner"  # edits its tenant's policy
CHECK = "check"  # asks /check for its tenant's decisions; can write nothing
SCOPES = (OWNER, CHECK)

_TOKEN = re.compile(r"([a-z0-9-]{1,64})\.([A-Za-z0-9_-]{16,128})")


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


@dataclass(frozen=True)
class Principal:
    """Who is calling: the platform admin (every tenant) or one tenant's key."""

    key_id: str
    scope: str  # "admin", OWNER or CHECK
    tenant: str | None  # None for the admin

    def describe(self) -> str:
        return f"{self.scope}:{self.key_id}"
