"""Support for the session tests (not a test module): a store wrapper that counts calls,
and the keys the tests use."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sso_bridge.ephemeral import EphemeralStore

CSRF_KEY = bytes(range(32, 64))
KEEP_KEY = bytes(range(64, 96))


class CountingStore:
    """Passes every call to ``inner``, counting them by method name in ``calls`` and
    recording every written key and value in ``written``."""

    def __init__(self, inner: EphemeralStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.written: list[tuple[str, bytes]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name in ("put", "add"):
                self.written.append((args[1], args[2]))
            return method(*args, **kwargs)

        return counted

    def writes(self) -> int:
        return self.calls["put"] + self.calls["add"]
