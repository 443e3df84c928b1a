"""Waiting in tests without waiting forever."""

from __future__ import annotations

import threading
from collections.abc import Callable


def in_time(call: Callable[[], object], seconds: float) -> BaseException | None:
    """Run ``call`` in a thread; what it raised, failing the test if it is still waiting."""
    raised: list[BaseException | None] = [None]

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            raised[0] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return raised[0]
