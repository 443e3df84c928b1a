"""An :class:`~sso_bridge.ephemeral.EphemeralStore` in this process's memory.

For one broker process (and for tests). Expired entries are invisible at once and are
dropped later: when touched by a write, and by a purge every ``purge_every`` writes that
pops them oldest first from a heap, so memory stays bounded without scanning everything.
"""

from __future__ import annotations

import heapq
import threading
from datetime import datetime

__all__ = ["InMemoryEphemeralStore"]

# (value, expires_at, owner): an immutable tuple, so that a reader needs no lock.
_Entry = tuple[bytes, datetime, str | None]
_Id = tuple[str, str]


class InMemoryEphemeralStore:
    """A thread-safe :class:`~sso_bridge.ephemeral.EphemeralStore` for one process.

    Writes hold one lock. :meth:`get` takes none: it reads one immutable entry with a
    single dictionary lookup, which is atomic, and that keeps session validation cheap.
    """

    in_process = True
    """No call waits on I/O: a session check over it may run on an event loop."""

    def __init__(self, *, purge_every: int = 1024) -> None:
        self._lock = threading.Lock()
        self._entries: dict[_Id, _Entry] = {}
        self._owners: dict[_Id, set[str]] = {}
        self._heap: list[tuple[datetime, str, str]] = []
        self._purge_every = max(1, purge_every)
        self._writes = 0

    def __len__(self) -> int:
        """How many entries are held, expired ones not yet dropped included."""
        return len(self._entries)

    def ping(self) -> None:
        """Always ready: the entries are in this process."""

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
        with self._lock:
            self._store((kind, key), bytes(value), expires_at, owner or None, now)

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
        """Store ``value`` only if no live entry has this key; True when stored."""
        ident = (kind, key)
        with self._lock:
            entry = self._entries.get(ident)
            if entry is not None and now < entry[1]:
                return False
            self._store(ident, bytes(value), expires_at, owner or None, now)
            return True

    def get(self, kind: str, key: str, now: datetime) -> bytes | None:
        """The live entry's value, or None."""
        entry = self._entries.get((kind, key))
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def consume(self, kind: str, key: str, now: datetime) -> bytes | None:
        """Remove the entry and return its value if it was live: at most one caller wins."""
        with self._lock:
            entry = self._remove((kind, key))
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def delete(self, kind: str, key: str) -> bool:
        """Remove the entry; True if there was one (live or not)."""
        with self._lock:
            return self._remove((kind, key)) is not None

    def increment(
        self, kind: str, key: str, expires_at: datetime, now: datetime
    ) -> tuple[int, datetime]:
        """Add one to the counter under the key; the count and when the counter expires."""
        ident = (kind, key)
        with self._lock:
            entry = self._entries.get(ident)
            if entry is not None and now < entry[1] and entry[0].isdigit():
                count, expires_at = int(entry[0]) + 1, entry[1]
            else:
                count = 1
            self._store(ident, b"%d" % count, expires_at, None, now)
        return count, expires_at

    def owned_by(self, kind: str, owner: str, now: datetime) -> list[tuple[str, bytes]]:
        """The live ``(key, value)`` pairs of ``kind`` put with this ``owner``, by key."""
        found: list[tuple[str, bytes]] = []
        with self._lock:
            for key in sorted(self._owners.get((kind, owner), ())):
                entry = self._entries[(kind, key)]
                if now < entry[1]:
                    found.append((key, entry[0]))
        return found

    def delete_owned_by(self, kind: str, owner: str) -> int:
        """Remove every entry of ``kind`` put with this ``owner``; how many went."""
        with self._lock:
            keys = self._owners.pop((kind, owner), set())
            for key in keys:
                del self._entries[(kind, key)]
        return len(keys)

    def scan(
        self, kind: str, now: datetime, cursor: str | None = None, limit: int = 500
    ) -> tuple[list[tuple[str, bytes]], str | None]:
        """Up to ``limit`` live ``(key, value)`` pairs of ``kind`` after ``cursor`` (None: from
        the start), by key, and the cursor to go on from (None: done)."""
        with self._lock:
            keys = sorted(
                k for (kd, k) in self._entries if kd == kind and (cursor is None or k > cursor)
            )
            page = keys[: max(limit, 1)]
            found = [(k, self._entries[(kind, k)]) for k in page]
        more = len(keys) > len(page)
        return [(k, e[0]) for k, e in found if now < e[1]], page[-1] if more else None

    def purge(self, now: datetime) -> int:
        """Drop every entry expired by ``now``; how many went."""
        with self._lock:
            return self._purge(now)

    # -- under the lock ------------------------------------------------------------------

    def _store(
        self, ident: _Id, value: bytes, expires_at: datetime, owner: str | None, now: datetime
    ) -> None:
        old = self._entries.get(ident)
        if old is not None and old[2] != owner:
            self._unindex(ident, old[2])
        self._entries[ident] = (value, expires_at, owner)
        if owner is not None:
            self._owners.setdefault((ident[0], owner), set()).add(ident[1])
        heapq.heappush(self._heap, (expires_at, ident[0], ident[1]))
        self._writes += 1
        if self._writes >= self._purge_every:
            self._writes = 0
            self._purge(now)

    def _remove(self, ident: _Id) -> _Entry | None:
        entry = self._entries.pop(ident, None)
        if entry is not None:
            self._unindex(ident, entry[2])
        return entry  # its heap item goes when it is due

    def _unindex(self, ident: _Id, owner: str | None) -> None:
        if owner is None:
            return
        keys = self._owners.get((ident[0], owner))
        if keys is not None:
            keys.discard(ident[1])
            if not keys:
                del self._owners[(ident[0], owner)]

    def _purge(self, now: datetime) -> int:
        dropped = 0
        heap = self._heap
        while heap and heap[0][0] <= now:
            expires_at, kind, key = heapq.heappop(heap)
            entry = self._entries.get((kind, key))
            # A replaced entry left its old heap item behind; only the current one counts.
            if entry is not None and entry[1] == expires_at:
                self._remove((kind, key))
                dropped += 1
        if len(heap) > 2 * len(self._entries) + 64:
            # Entries renewed again and again leave many stale items; start afresh.
            self._heap = [(e[1], kind, key) for (kind, key), e in self._entries.items()]
            heapq.heapify(self._heap)
        return dropped
