"""/readyz over real PostgreSQL and Redis behind a fault proxy: 503 within the readiness
timeout when a store refuses or hangs, 200 again once it is back."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from helpers.accounts import KEY
from helpers.fault_proxy import FaultProxy, Mode
from sso_bridge.observe import Observe, Readiness
from sso_bridge.store import open_ephemeral_store, open_store

REDIS_ENV = "SSO_BRIDGE_TEST_REDIS"
TIMEOUT = 0.5

pytestmark = pytest.mark.postgres


def _through(url: str, proxy: FaultProxy) -> str:
    parsed = sa.make_url(url)
    return parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@pytest.fixture
def stores(postgres_schema_url: str) -> Iterator[tuple[Readiness, FaultProxy, FaultProxy]]:
    redis_url = os.environ.get(REDIS_ENV)
    if not redis_url:
        pytest.skip(f"{REDIS_ENV} is not set: no Redis server to test against")
    db, redis = sa.make_url(postgres_schema_url), sa.make_url(redis_url)
    with (
        FaultProxy(db.host or "127.0.0.1", db.port or 5432) as pg_proxy,
        FaultProxy(redis.host or "127.0.0.1", redis.port or 6379) as redis_proxy,
    ):
        store = open_store(_through(postgres_schema_url, pg_proxy), KEY)
        ephemeral = open_ephemeral_store(_through(redis_url, redis_proxy))
        broker = SimpleNamespace(directory=store, ephemeral=ephemeral)
        observe = Observe(
            registry=CollectorRegistry(), readiness_timeout=TIMEOUT, readiness_cache=0
        )
        try:
            yield observe.readiness(broker), pg_proxy, redis_proxy
        finally:
            pg_proxy.set_mode(Mode.PASS)
            redis_proxy.set_mode(Mode.PASS)
            store.close()


def _timed(readiness: Readiness) -> tuple[dict[str, str], float]:
    started = time.monotonic()
    report = readiness.report()
    return dict(report.checks), time.monotonic() - started


def _ready_again(readiness: Readiness) -> None:
    deadline = time.monotonic() + 10
    while not readiness.report().ready:
        assert time.monotonic() < deadline, readiness.report().checks
        time.sleep(0.1)


@pytest.mark.parametrize("mode", [Mode.REFUSE, Mode.HANG])
@pytest.mark.parametrize("which", ["database", "ephemeral"])
def test_readiness_follows_a_store_fault(
    stores: tuple[Readiness, FaultProxy, FaultProxy], mode: Mode, which: str
) -> None:
    readiness, pg_proxy, redis_proxy = stores
    assert readiness.report().checks == {"database": "ok", "ephemeral": "ok"}
    proxy = pg_proxy if which == "database" else redis_proxy
    proxy.set_mode(mode)
    checks, waited = _timed(readiness)
    assert checks[which] == "store.unavailable"
    assert checks[({"database", "ephemeral"} - {which}).pop()] == "ok"
    assert waited < TIMEOUT + 0.3, waited
    proxy.set_mode(Mode.PASS)
    _ready_again(readiness)
