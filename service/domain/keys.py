"""API keys: `<key id>.<secret>` tokens, kept only as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

OWNER = "owner"  # edits its tenant's policy
AUDIT = "audit"  # reads its tenant's policy, ledger and decision log; can write nothing
CHECK = "check"  # asks /check for its tenant's decisions; can write nothing
SCOPES = (OWNER, AUDIT, CHECK)  # a tenant's keys
ADMIN = "admin"  # the platform admin's key: every tenant, no tenant of its own
APP = "app"  # an app's key (R21): publishes its catalogue, asks about its own permissions
READERS = (OWNER, AUDIT)  # who may read a tenant's policy and its history

KEY_ID = r"[a-z0-9-]{1,64}"
MAX_OVERLAP_SECONDS = 30 * 24 * 3600  # how long a rotated-out key may keep working
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
    valid_until: float | None = None  # Unix seconds; None: until revoked
    app: str | None = None  # an app key's app (its tenant is None)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the platform admin (every tenant), one tenant's key, or an app's."""

    key_id: str
    scope: str  # ADMIN, APP or one of SCOPES
    tenant: str | None  # None for the admin and apps
    app: str | None = None  # an app key's app

    def describe(self) -> str:
        """The actor the ledger names: an app acts as `app:<id>` whichever key it uses."""
        return f"app:{self.app}" if self.app is not None else f"{self.scope}:{self.key_id}"


@dataclass
class StagedKey:
    """One of a tenant's keys as a write sees it: loaded before the edit, changed by it."""

    key_id: str
    scope: str
    secret_hash: str
    valid_until: float | None = None  # Unix seconds; None: until revoked
    created: bool = False


class KeyRing:
    """A tenant's keys inside one write (part of its unit of work, TenantPolicy.keys).

    Edits add and end keys here; storage writes what changed, and nothing else."""

    def __init__(self, tenant: str, loaded: list[StagedKey] | tuple[StagedKey, ...] = ()):
        self.tenant = tenant
        self._keys = {k.key_id: k for k in loaded}
        self._before = {k.key_id: k.valid_until for k in loaded}

    def get(self, key_id: str) -> StagedKey | None:
        return self._keys.get(key_id)

    def add(self, scope: str, token: str | None = None) -> tuple[str, str]:
        """A new key of the tenant: (key id, token); the token is shown only now."""
        if token is None:
            key_id, token = new_token()
        else:
            key_id = key_id_of(token)
            if key_id is None:
                raise ValueError("a fixed token must look like <id>.<secret>")
        self._keys[key_id] = StagedKey(key_id, scope, digest(token), None, created=True)
        return key_id, token

    def end(self, key_id: str, at: float) -> None:
        """Make the key stop working at `at` (Unix seconds)."""
        self._keys[key_id].valid_until = at

    def active_count(self, scope: str) -> int:
        """Keys of the scope that are neither revoked nor on their way out."""
        return sum(1 for k in self._keys.values() if k.scope == scope and k.valid_until is None)

    def changes(self) -> list[StagedKey]:
        """Keys created or ended in this write, in the order of their ids."""
        return [k for key_id, k in sorted(self._keys.items())
                if k.created or self._before.get(key_id) != k.valid_until]


def ledger_details(changes) -> dict:
    """The keys a write created or ended, as its ledger entry records them (never
    secrets or digests)."""
    out = {}
    for key in changes:
        until = (None if key.valid_until is None
                 else datetime.fromtimestamp(key.valid_until, UTC).isoformat())
        out[key.key_id] = {"scope": key.scope, "created": key.created, "valid_until": until}
    return out
