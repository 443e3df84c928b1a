"""The registry is injectable, shared per registry, and the engine is measured."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from sso_bridge.observe import Metrics, instrument_engine, metrics_for
from sso_bridge.observe.metrics import bounded_code, store_failed, store_timed


def test_one_metrics_per_registry() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    assert metrics_for(first) is metrics_for(first)
    assert metrics_for(first) is not metrics_for(second)
    assert metrics_for() is metrics_for()  # the default registry, shared by every broker
    assert all(name.startswith("sso_bridge_") for name in metrics_for(first).names())


def test_labels_stay_within_the_code_registry() -> None:
    assert bounded_code("store.unavailable") == "store.unavailable"
    assert bounded_code("1234-5678 Иванов") == "other"


def test_an_engine_is_measured(tmp_path: object) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.QueuePool, pool_size=3)
    instrument_engine(engine, metrics, pool="main")
    instrument_engine(engine, metrics, pool="main")  # once only
    with engine.connect() as conn:
        conn.execute(sa.text("select 1"))
        assert registry.get_sample_value("sso_bridge_pool_in_use", {"pool": "main"}) == 1
        with contextlib.suppress(sa.exc.OperationalError):
            conn.execute(sa.text("select * from missing"))
    count = registry.get_sample_value(
        "sso_bridge_store_seconds_count", {"store": "sql", "operation": "select"}
    )
    assert count == 1
    assert registry.get_sample_value("sso_bridge_pool_in_use", {"pool": "main"}) == 0
    assert registry.get_sample_value("sso_bridge_pool_size", {"pool": "main"}) == 3
    errors = registry.get_sample_value(
        "sso_bridge_store_errors_total", {"store": "sql", "code": "store.error"}
    )
    assert errors == 1


def test_stores_without_metrics_at_hand_count_into_every_registry() -> None:
    registry = CollectorRegistry()
    metrics_for(registry)
    store_failed("redis", "store.unavailable")
    store_timed("sql", "select", 0.002)
    labels = {"store": "redis", "code": "store.unavailable"}
    assert registry.get_sample_value("sso_bridge_store_errors_total", labels) == 1
    timed = {"store": "sql", "operation": "select"}
    assert registry.get_sample_value("sso_bridge_store_seconds_count", timed) == 1
