"""The port for short-lived server-side entries (docs/storage.md).

A port shared by several parts, like :class:`~sso_bridge.clock.Clock`: sessions, the
second factor, the broker's steps and the protocols' one-time stores all keep their
entries here, so it sits at the bottom of the layers (docs/design.md).

Sessions, second-factor challenges, linking proofs, login steps, kept requests, one-time
OIDC state, the SAML request and replay stores and the JWKS cache all live in an
:class:`EphemeralStore`: opaque bytes under ``(kind, key)`` with an expiry time and an
optional *owner* (an account, a browser) by which entries can be listed and dropped
together.

Every operation takes ``now``: an entry whose ``expires_at`` is not after ``now`` does
not exist, whatever the backend's own clock says (Redis TTLs only collect garbage).
Implementations, in :mod:`sso_bridge.store`: in memory, SQL (SQLite, PostgreSQL) and
Redis, behind one contract test suite (``open_ephemeral_store(url)`` picks one).

A *kind* is a short constant naming what the entries are (``"session"``): non-empty,
without ``:``, not ``owner``. Keys are any strings. An empty owner is no owner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["EphemeralStore"]


class EphemeralStore(Protocol):
    """Expiring entries, each read, replaced or consumed atomically.

    Entries are bytes under ``(kind, key)``; an entry put with ``expires_at`` not after
    ``now`` is never seen. Writes are atomic for every caller of the same backend, in
    this process or another one sharing it.
    """

    def put(
        self,
        kind: str,
        key: str,
        value: bytes,
        expires_at: datetime,
        now: datetime,
        *,
        owner: str | None = None,
    ) -> None:
        """Store ``value``, replacing any entry under the same key."""
        ...

    def add(
        self,
        kind: str,
        key: str,
        value: bytes,
        expires_at: datetime,
        now: datetime,
        *,
        owner: str | None = None,
    ) -> bool:
        """Store ``value`` only if no live entry has this key; True when stored.

        An expired entry still held by the backend counts as absent and is replaced.
        """
        ...

    def get(self, kind: str, key: str, now: datetime) -> bytes | None:
        """The live entry's value, or None."""
        ...

    def consume(self, kind: str, key: str, now: datetime) -> bytes | None:
        """Remove the entry and return its value if it was live: at most one caller wins."""
        ...

    def delete(self, kind: str, key: str) -> bool:
        """Remove the entry; True if there was one (live or not)."""
        ...

    def increment(
        self, kind: str, key: str, expires_at: datetime, now: datetime
    ) -> tuple[int, datetime]:
        """Add one to the counter under the key; the count and when the counter expires.

        Without a live entry the counter starts at one and lives until ``expires_at``;
        a live one keeps its expiry. The value reads as the count in ASCII digits.
        """
        ...

    def owned_by(self, kind: str, owner: str, now: datetime) -> list[tuple[str, bytes]]:
        """The live ``(key, value)`` pairs of ``kind`` put with this ``owner``, by key."""
        ...

    def delete_owned_by(self, kind: str, owner: str) -> int:
        """Remove every entry of ``kind`` put with this ``owner``; how many went."""
        ...

    def scan(
        self, kind: str, now: datetime, cursor: str | None = None, limit: int = 500
    ) -> tuple[list[tuple[str, bytes]], str | None]:
        """One page of the live ``(key, value)`` pairs of ``kind``: about ``limit`` entries
        looked at after ``cursor`` (None: from the start), and the cursor of the next page
        (None: done). Every entry live throughout is seen, once or (Redis) more; the order is
        the backend's.
        For rare tasks (an erasure), not for requests: it reads every entry of the kind."""
        ...

    def ping(self) -> None:
        """One cheap round trip to the backend, bounded by its timeouts; raises
        ``StoreError`` (``store.unavailable``) when it does not answer (readiness)."""
        ...
