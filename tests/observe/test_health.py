"""Readiness checks: deadlines, the cache, a hung check not started twice."""

from __future__ import annotations

import threading
import time

import pytest

from sso_bridge.errors import ConfigError, StoreError
from sso_bridge.observe import Readiness


def test_a_hung_check_answers_in_time_and_is_not_started_again() -> None:
    release, started = threading.Event(), []

    def hung() -> None:
        started.append(1)
        release.wait(10)

    readiness = Readiness({"database": hung, "ephemeral": lambda: None}, timeout=0.2, cache=0)
    for _ in range(3):
        begun = time.monotonic()
        report = readiness.report()
        assert time.monotonic() - begun < 0.5
        assert report.checks == {"database": "store.unavailable", "ephemeral": "ok"}
    assert len(started) == 1
    release.set()
    time.sleep(0.05)
    assert readiness.report().ready


def test_the_result_is_kept_for_the_cache_time() -> None:
    calls: list[int] = []
    readiness = Readiness({"database": lambda: calls.append(1)}, timeout=1, cache=60)
    assert readiness.report().ready and readiness.report().ready
    assert calls == [1]


def test_only_store_codes_are_reported() -> None:
    def fails() -> None:
        raise StoreError("secret detail", code="store.unavailable")

    def breaks() -> None:
        raise RuntimeError("password=hunter2")

    report = Readiness({"a": fails, "b": breaks}, cache=0).report()
    assert report.body() == {
        "status": "unavailable",
        "checks": {"a": "store.unavailable", "b": "store.unavailable"},
    }


def test_a_bad_timeout_is_refused() -> None:
    with pytest.raises(ConfigError):
        Readiness({}, timeout=0)
