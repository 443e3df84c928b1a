"""The one-time stores of the protocols, kept in any :class:`EphemeralStore`.

With a shared store (SQL, Redis) a used OIDC ``state``, an issued SAML request or an
accepted assertion ID is known to every broker process, not only to the one that saw it.
Keys are SHA-256 digests of the IDs: their size stays bounded whatever a peer sends.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sso_bridge.clock import Clock, SystemClock
from sso_bridge.ephemeral import EphemeralStore

__all__ = [
    "OIDC_STATE_KIND",
    "SAML_ASSERTION_KIND",
    "SAML_REQUEST_KIND",
    "EphemeralReplayCache",
    "EphemeralRequestStore",
    "EphemeralStateStore",
]

OIDC_STATE_KIND = "oidc_state"
SAML_REQUEST_KIND = "saml_request"
SAML_ASSERTION_KIND = "saml_assertion"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class EphemeralStateStore:
    """The OIDC :class:`~sso_bridge.oidc.flow.StateStore` in an :class:`EphemeralStore`."""

    def __init__(self, store: EphemeralStore, *, kind: str = OIDC_STATE_KIND) -> None:
        self._store = store
        self._kind = kind

    def mark_used(self, state: str, expires_at: datetime, now: datetime) -> bool:
        """Mark ``state`` used until ``expires_at``; False if it was used before."""
        return self._store.add(self._kind, _digest(state), b"", expires_at, now)

    consume = mark_used
    """The former name of :meth:`mark_used`."""


class EphemeralRequestStore:
    """The SAML :class:`~sso_bridge.saml.stores.RequestStore` in an :class:`EphemeralStore`.

    ``RequestStore.add`` is given no time, so ``clock`` supplies it (for the TTL only).
    """

    def __init__(
        self,
        store: EphemeralStore,
        *,
        clock: Clock | None = None,
        kind: str = SAML_REQUEST_KIND,
    ) -> None:
        self._store = store
        self._clock = clock or SystemClock()
        self._kind = kind

    def add(self, request_id: str, expires_at: datetime) -> None:
        """Remember an issued request until ``expires_at``."""
        self._store.put(self._kind, _digest(request_id), b"", expires_at, self._clock.now())

    def consume(self, request_id: str, now: datetime) -> bool:
        """Forget the request; True only if it was known and not expired."""
        return self._store.consume(self._kind, _digest(request_id), now) is not None


class EphemeralReplayCache:
    """The SAML :class:`~sso_bridge.saml.stores.ReplayCache` in an :class:`EphemeralStore`."""

    def __init__(self, store: EphemeralStore, *, kind: str = SAML_ASSERTION_KIND) -> None:
        self._store = store
        self._kind = kind

    def add_if_new(self, assertion_id: str, expires_at: datetime, now: datetime) -> bool:
        """Record the ID; False if it was already recorded (a replay)."""
        return self._store.add(self._kind, _digest(assertion_id), b"", expires_at, now)
