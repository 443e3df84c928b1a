"""The sessions of the hand-written check that ``/peer`` of tests/helpers/load_app.py
serves: the bench writes them to Redis, the page reads them."""

import hashlib

__all__ = ["PEER_COOKIE", "PEER_PREFIX", "peer_key"]

PEER_COOKIE = "peer_session"
PEER_PREFIX = "load-peer-session:"
"""Where the hand-written check's sessions are kept: JSON with the account and the IP."""


def peer_key(token: str) -> str:
    """The Redis key of the hand-written check's session of ``token`` (stored hashed)."""
    return PEER_PREFIX + hashlib.sha256(token.encode()).hexdigest()
