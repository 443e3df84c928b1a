"""Server-side, use-once SAML state: the requests this service provider issued, and the
assertion IDs it accepted (the replay cache). Ports, and thread-safe in-memory versions."""

from __future__ import annotations

import heapq
import threading
from datetime import datetime
from typing import Protocol

__all__ = ["InMemoryReplayCache", "InMemoryRequestStore", "ReplayCache", "RequestStore"]


class RequestStore(Protocol):
    """Server-side record of the AuthnRequest IDs this service provider issued."""

    def add(self, request_id: str, expires_at: datetime) -> None:
        """Remember an issued request until ``expires_at``."""
        ...

    def consume(self, request_id: str, now: datetime) -> bool:
        """Forget the request; True only if it was known and not expired."""
        ...


class _ExpiringIds:
    """IDs with expiry times; expired ones are dropped oldest first (a heap), not by scan."""

    def __init__(self) -> None:
        self._expires_at: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def purge(self, now: datetime) -> None:
        while self._heap and self._heap[0][0] <= now:
            expires_at, key = heapq.heappop(self._heap)
            if self._expires_at.get(key) == expires_at:
                del self._expires_at[key]

    def put(self, key: str, expires_at: datetime) -> None:
        self._expires_at[key] = expires_at
        heapq.heappush(self._heap, (expires_at, key))

    def pop(self, key: str) -> datetime | None:
        return self._expires_at.pop(key, None)  # its heap entry goes when it expires

    def __contains__(self, key: str) -> bool:
        return key in self._expires_at

    def __len__(self) -> int:
        return len(self._expires_at)


class InMemoryRequestStore:
    """A thread-safe :class:`RequestStore` for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = _ExpiringIds()

    def add(self, request_id: str, expires_at: datetime) -> None:
        with self._lock:
            self._requests.put(request_id, expires_at)

    def consume(self, request_id: str, now: datetime) -> bool:
        with self._lock:
            expires_at = self._requests.pop(request_id)
            self._requests.purge(now)
        return expires_at is not None and now < expires_at


class ReplayCache(Protocol):
    """Assertion IDs already accepted, kept until the assertion's NotOnOrAfter."""

    def add_if_new(self, assertion_id: str, expires_at: datetime, now: datetime) -> bool:
        """Record the ID; False if it was already recorded (a replay)."""
        ...


class InMemoryReplayCache:
    """A thread-safe :class:`ReplayCache` for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen = _ExpiringIds()

    def add_if_new(self, assertion_id: str, expires_at: datetime, now: datetime) -> bool:
        with self._lock:
            self._seen.purge(now)
            if assertion_id in self._seen:
                return False
            self._seen.put(assertion_id, expires_at)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
