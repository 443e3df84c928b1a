"""/healthz, /readyz and /metrics in every adapter."""

from __future__ import annotations

import json
import threading
import time

from prometheus_client import CollectorRegistry

from observe.conftest import Lines, Served
from sso_bridge.errors import StoreError
from sso_bridge.observe import Observe

TIMEOUT = 0.4


def _failing() -> None:
    raise StoreError("the database is down", code="store.unavailable")


def test_health_and_readiness_follow_the_stores(
    observed: Served, registry: CollectorRegistry, lines: Lines
) -> None:
    observe = Observe(registry=registry, readiness_timeout=TIMEOUT, readiness_cache=0.0)
    world = observed(observe)
    browser = world.browser
    alive = browser.get("/auth/healthz")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert "set-cookie" not in alive.headers
    ready = browser.get("/auth/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "ephemeral": "ok"}}

    world.store.ping = _failing  # type: ignore[attr-defined]
    down = browser.get("/auth/readyz")
    assert down.status_code == 503
    body = down.json()
    assert body == {
        "status": "unavailable",
        "checks": {"database": "store.unavailable", "ephemeral": "ok"},
    }
    assert "down" not in down.text  # the code only, never the error's text
    # a line logged while the request was served carries its id, whatever the thread
    failed = [json.loads(x) for x in lines.lines if '"health.failed"' in x]
    assert [x["request_id"] for x in failed] == [down.headers["x-request-id"]]
    assert registry.get_sample_value("sso_bridge_ready", {"check": "database"}) == 0

    release = threading.Event()
    world.store.ping = lambda: release.wait(10)  # type: ignore[attr-defined]
    started = time.monotonic()
    hung = browser.get("/auth/readyz")
    waited = time.monotonic() - started
    assert hung.status_code == 503
    assert hung.json()["checks"]["database"] == "store.unavailable"
    assert waited < TIMEOUT + 0.5, waited
    assert browser.get("/auth/healthz").status_code == 200  # alive touches no store

    release.set()
    del world.store.ping  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while (again := browser.get("/auth/readyz")).status_code != 200:
        assert time.monotonic() < deadline, again.text
        time.sleep(0.05)
    assert again.json()["checks"] == {"database": "ok", "ephemeral": "ok"}
    assert registry.get_sample_value("sso_bridge_ready", {"check": "database"}) == 1

    ephemeral = world.broker._ephemeral
    ephemeral.ping = _failing
    down = browser.get("/auth/readyz")
    assert down.status_code == 503
    assert down.json()["checks"] == {"database": "ok", "ephemeral": "store.unavailable"}
    del ephemeral.ping
    assert browser.get("/auth/metrics").status_code == 404  # off unless enabled
