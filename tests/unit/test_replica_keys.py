"""A key works on every worker from the moment its revision commits: a worker that holds
the tenant at an earlier revision, not caught up yet, still lets the new key in (it reads
the key by its id), and a revoked one stays out (found by the whole-service state machine,
tests/e2e/test_write_sequences.py: a rotated owner key answered 401 on the instance that
had not caught up)."""

from __future__ import annotations

import pytest

from service.domain.errors import Unauthorized
from service.domain.keys import OWNER
from service.usecases import tenant_admin

from .memory import Memory, owner


def test_a_key_made_on_another_worker_works_here_before_catching_up():
    here = Memory()
    there = here.other()
    here.service.replica.hold("acme")
    held_at = here.service.replica.revision("acme")
    revision, made = tenant_admin.create_key(there.service, owner(), "acme", OWNER)
    assert revision > held_at
    caller = here.service.replica.authenticate(f"Bearer {made['token']}")
    assert (caller.key_id, caller.scope, caller.tenant) == (made["key_id"], OWNER, "acme")
    assert here.service.replica.revision("acme") == held_at  # (it did not catch up)


def test_a_key_revoked_on_another_worker_is_refused_here_once_caught_up():
    here = Memory()
    there = here.other()
    _, made = tenant_admin.create_key(there.service, owner(), "acme", OWNER)
    header = f"Bearer {made['token']}"
    assert here.service.replica.authenticate(header).key_id == made["key_id"]
    tenant_admin.revoke_key(there.service, owner(), "acme", made["key_id"])
    here.service.replica.catch_up(force=True)
    with pytest.raises(Unauthorized):
        here.service.replica.authenticate(header)
