"""Who is signed in to the console, and the CSRF token of their session.

A session holds the key id and the SHA-256 of the key (what the database holds too), never
the key itself, in a cookie signed with AUTHZ_SESSION_SECRET, with a session token whose
row on the server (storage/console_sessions.py) is what keeps it open: signing out ends
it for every worker and every copy of the cookie. Every request checks the session row
and the key again: a revoked or expired key ends its sessions at the next click. Every
form carries the session's CSRF token; a POST without the right one changes nothing.
"""

from __future__ import annotations

import hmac
import secrets

from flask import current_app, g, request, session

from ..domain import keys
from ..domain.errors import Forbidden, ServiceError, Unauthorized

CSRF_FIELD = "csrf_token"


def _service():
    return current_app.extensions["authz"]


def sign_in(token: str) -> keys.Caller:
    """Start a session for an owner or audit key (401/403 otherwise)."""
    token = token.strip()
    replica = _service().replica
    replica.catch_up()
    caller = replica.authenticate(f"Bearer {token}")
    if caller.scope not in keys.READERS:
        raise Forbidden("sign in with a tenant's owner key or audit key",
                        {"token": ["not an owner or audit key"]})
    language = session.get("lang")
    sid = _service().start_session(caller.key_id,
                                 current_app.config["AUTHZ_SESSION_HOURS"])
    session.clear()
    session.permanent = True
    session["sid"] = sid
    session["key_id"] = caller.key_id
    session["key_digest"] = keys.digest(token)
    session["csrf"] = secrets.token_urlsafe(32)  # a new token: none from before sign-in
    if language:
        session["lang"] = language
    return caller


def sign_out() -> None:
    language = session.get("lang")
    if session.get("sid"):
        _service().end_session(session["sid"])
    session.clear()
    if language:
        session["lang"] = language


def current() -> keys.Caller | None:
    """The signed-in key as of now, or None (no session, or its key no longer works)."""
    key_id, digest, sid = session.get("key_id"), session.get("key_digest"), session.get("sid")
    if not key_id or not digest or not sid:
        return None
    service = _service()
    try:
        service.replica.catch_up()
        if service.session_key(sid) != key_id:
            raise Unauthorized("this session has ended")
        return service.replica.key_holder(key_id, digest)
    except Unauthorized:
        session.pop("key_id", None)
        session.pop("key_digest", None)
        session.pop("sid", None)
        g.session_ended = True
        return None
    except ServiceError:
        return None  # the database is unreachable: treated as signed out, never as signed in


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD, "")
    return bool(expected) and hmac.compare_digest(expected, given)
