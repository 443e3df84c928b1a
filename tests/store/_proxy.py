"""What the store fault tests share: a fault proxy in front of a test server
(:class:`helpers.fault_proxy.FaultProxy`) and the check that a call failed closed, in time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from helpers.fault_proxy import FaultProxy
from sso_bridge.errors import StoreError

__all__ = ["FaultProxy", "unavailable"]


def unavailable(call: Callable[[], object], within: float = 10.0) -> tuple[StoreError, float]:
    """The error ``call`` raised and how long it took; it must be ``store.unavailable``
    (503, with ``Retry-After``), and come within ``within`` seconds (the call runs on a
    thread of its own, so that a call that never returns fails the test instead of
    hanging it)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)
        else:
            outcome.append(None)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(within)
    took = time.monotonic() - started
    if not outcome:
        pytest.fail(f"the call was still waiting after {within} s")
    error = outcome[0]
    assert isinstance(error, StoreError), repr(error)
    assert error.code == "store.unavailable", error
    assert error.http_status == 503
    assert error.retry_after is not None
    return error, took
