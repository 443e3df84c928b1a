"""The driver-level paths share the engine's one pool: no connection of their own, never
more server connections than the pool allows under many threads, a broken connection
replaced, prepared statements planned once."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa

from helpers.accounts import ISSUER, KEY, ORGS, make_account
from sso_bridge.audit import verify_log
from sso_bridge.errors import StoreError
from sso_bridge.matching.keys import BlindIndex, account_keys
from sso_bridge.model import AuditAction, AuditEvent, Link, LinkMethod
from sso_bridge.store.sql import SqlStore, open_store
from sso_bridge.store.sql_driver import SharedQueuePool

T0 = datetime(2026, 9, 1, 7, 30, tzinfo=UTC)
THREADS = 24


def _seed(store: SqlStore, people: int = 6) -> None:
    store.import_accounts([make_account(f"a{i}") for i in range(people)], ORGS)
    for i in range(people):
        link = Link(ISSUER, f"s-{i % 3}", f"a{i}", LinkMethod.ADMIN, T0, "admin:test")
        store.create_link(link, AuditEvent(AuditAction.LINK, T0, "admin:test"))


def _login_work(store: SqlStore, thread: int, rounds: int) -> None:
    keys = account_keys(make_account("probe"), store.blind_index)
    for n in range(rounds):
        assert len(store.find_accounts(keys, ISSUER)) == 6
        assert len(store.links_for_subject(ISSUER, f"s-{n % 3}")) == 2
        assert len(store.linked_accounts(ISSUER, f"s-{n % 3}")) == 2
        assert store.get_entry(f"a{n % 6}", ISSUER) is not None
        event = AuditEvent(AuditAction.LOGIN, T0, "web", account_id=f"a{thread}")
        store.record_many([event, AuditEvent(AuditAction.SESSION_START, T0, "web")])


def _run_threads(target: Callable[[int], None], count: int = THREADS) -> None:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]


@pytest.fixture
def app_url(postgres_schema_url: str) -> tuple[str, str]:
    """A URL whose connections carry an application name of their own, and that name."""
    name = "sso_bridge_test_" + secrets.token_hex(4)
    return f"{postgres_schema_url}&application_name={name}", name


def _server_connections(admin: psycopg.Connection[tuple[int]], name: str) -> int:
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def test_postgres_connections_stay_within_the_pool(app_url: tuple[str, str]) -> None:
    url, name = app_url
    engine = sa.create_engine(url, pool_size=3, max_overflow=2, pool_timeout=60)
    store = SqlStore(engine, BlindIndex(KEY))
    base = url.split("?", 1)[0].replace("postgresql+psycopg://", "postgresql://", 1)
    counts: list[int] = []
    done = threading.Event()
    try:
        _seed(store)
        with psycopg.connect(base, autocommit=True) as admin:

            def sample() -> None:
                while not done.is_set():
                    counts.append(_server_connections(admin, name))
                    done.wait(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                _run_threads(lambda i: _login_work(store, i, 8))
            finally:
                done.set()
                sampler.join()
            assert max(counts) <= 3 + 2, max(counts)
            assert max(counts) >= 2  # the threads did overlap on the server
            assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            assert len(store.events()) == 6 + THREADS * 8 * 2
            assert verify_log(store).ok
            store.close()
            deadline = time.monotonic() + 5  # a closed backend leaves the view shortly after
            while _server_connections(admin, name) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _server_connections(admin, name) == 0
    finally:
        store.close()


def test_a_broken_pooled_connection_is_replaced(app_url: tuple[str, str]) -> None:
    url, name = app_url
    # no pre-ping: the driver paths must notice a dead connection themselves
    engine = sa.create_engine(url, pool_size=2, max_overflow=0, pool_pre_ping=False)
    store = SqlStore(engine, BlindIndex(KEY))
    try:
        _seed(store)
        keys = account_keys(make_account("probe"), store.blind_index)
        two = [engine.raw_connection(), engine.raw_connection()]  # both pooled connections
        before = {c.driver_connection.info.backend_pid for c in two}  # type: ignore[union-attr]
        for c in two:
            c.close()
        base = url.split("?", 1)[0].replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            )
            event = AuditEvent(AuditAction.LOGIN, T0, "web")
            # a write is not repeated: it fails once, cleanly, and drops its connection
            with pytest.raises(StoreError) as failed:
                store.record(event)
            assert failed.value.code == "store.unavailable"
            # reads are tried again on another connection: no error at all
            assert len(store.find_accounts(keys, ISSUER)) == 6
            assert len(store.links_for_subject(ISSUER, "s-0")) == 2
            assert len(store.linked_accounts(ISSUER, "s-1")) == 2
            store.record(event)
            assert _server_connections(admin, name) <= 2
        with engine.connect() as conn:
            after = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert after not in before
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert verify_log(store).ok
    finally:
        store.close()


def test_pooled_connections_plan_the_statements_once(postgres_schema_url: str) -> None:
    store = open_store(postgres_schema_url, KEY)
    try:
        _seed(store)
        keys = account_keys(make_account("probe"), store.blind_index)
        assert len(store.find_accounts(keys, ISSUER)) == 6
        pooled = store.engine.raw_connection()
        try:
            conn = pooled.driver_connection
            assert conn is not None
            assert conn.execute("SHOW plan_cache_mode").fetchone() == ("force_generic_plan",)
            assert conn.autocommit is False  # given back as SQLAlchemy expects it
        finally:
            pooled.close()
    finally:
        store.close()


def test_sqlite_threads_share_the_pool(sqlite_url: str) -> None:
    store = open_store(sqlite_url, KEY)
    pool = store.engine.pool
    try:
        _seed(store)
        _run_threads(lambda i: _login_work(store, i, 6), count=8)
        assert isinstance(pool, SharedQueuePool)
        # only the idle connections held for the driver's next call are still out
        assert 1 <= pool.held() <= pool.size()
        assert pool.checkedout() == pool.held()
        assert len(store.events()) == 6 + 8 * 6 * 2
        assert verify_log(store).ok
    finally:
        store.close()
    assert pool.held() == 0


def test_sqlite_held_connections_come_back_before_anyone_waits(sqlite_url: str) -> None:
    store = open_store(sqlite_url, KEY)
    pool = store.engine.pool
    assert isinstance(pool, SharedQueuePool)
    try:
        _seed(store)
        keys = account_keys(make_account("probe"), store.blind_index)
        # five threads at once leave five connections held; the budget is 5 + 10
        barrier = threading.Barrier(5)

        def read(_i: int) -> None:
            barrier.wait(5)
            for _ in range(20):
                store.find_accounts(keys, ISSUER)

        _run_threads(read, count=5)
        held = pool.held()
        assert held >= 1
        # every connection of the budget checked out by SQLAlchemy's own path: the held
        # ones come back instead of a wait for the pool's timeout
        capacity = pool.size() + pool._max_overflow
        conns = [store.engine.connect() for _ in range(capacity)]
        try:
            assert pool.held() == 0
            assert pool.checkedout() == capacity
        finally:
            for conn in conns:
                conn.close()
        assert len(store.find_accounts(keys, ISSUER)) == 6
    finally:
        store.close()
