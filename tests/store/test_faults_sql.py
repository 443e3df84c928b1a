"""The SQL stores fail fast and closed: a database that refuses, hangs or runs out of
connections is ``store.unavailable`` within the configured timeouts, never a raw driver
error and never a wait without end; the bulkhead keeps threads free; after the fault the
same store objects work again.

PostgreSQL runs behind a TCP proxy (tests/store/_proxy.py) when SSO_BRIDGE_TEST_POSTGRES
names a server; SQLite needs nothing.
"""

from __future__ import annotations

import contextlib
import inspect
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers.accounts import ISSUER, KEY, ORGS, make_account
from sso_bridge.audit.trail import ChainStart
from sso_bridge.errors import StoreError
from sso_bridge.linking.requests import LinkRequest
from sso_bridge.matching.keys import MatchKeys
from sso_bridge.model import AuditAction, AuditEvent, Link, LinkMethod
from sso_bridge.store import InMemoryEphemeralStore, SqlEphemeralStore, open_store
from sso_bridge.store.guard import guard_for
from sso_bridge.store.settings import DatabaseSettings
from sso_bridge.store.sql import SqlStore, create_engine
from sso_bridge.store.sql_credentials import SqlCredentialStore
from store._proxy import FaultProxy, unavailable

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FAST = DatabaseSettings(
    connect_timeout=2,  # libpq's least
    statement_timeout=0.5,
    lock_timeout=0.3,
    answer_margin=0.5,
    pool_size=2,
    max_overflow=1,
    pool_timeout=0.5,
    ping_after=0.2,
    reconnect_backoff=0.05,
    reconnect_backoff_max=0.2,
    keepalive_idle=5,
)
# The watchdog looks every 0.1 s; a loaded machine needs some slack on top.
SLACK = 1.0


def link(account_id: str, subject: str = "s1") -> Link:
    return Link(ISSUER, subject, account_id, LinkMethod.ADMIN, NOW, "admin:test", "10.1.2.3")


def event(account_id: str = "a1", subject: str = "s1") -> AuditEvent:
    return AuditEvent(
        AuditAction.LINK, NOW, "admin:test", LinkMethod.ADMIN, ISSUER, subject, account_id, "::1"
    )


@pytest.fixture
def proxied(postgres_schema_url: str) -> Iterator[tuple[FaultProxy, str]]:
    """A proxy in front of the test server, and the test schema's URL through it."""
    url = sa.make_url(postgres_schema_url)
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        yield proxy, url.set(port=proxy.port).render_as_string(hide_password=False)
    finally:
        proxy.stop()


@pytest.fixture
def pg_store(proxied: tuple[FaultProxy, str]) -> Iterator[tuple[FaultProxy, SqlStore]]:
    proxy, url = proxied
    store = open_store(url, KEY, settings=FAST)
    store.root_interval = None
    store.import_accounts([make_account("a1")], ORGS)
    store.create_link(link("a1"), event())
    yield proxy, store
    store.close()


def calls(store: SqlStore) -> dict[str, Callable[[], object]]:
    """One call of every public method of ``SqlStore``."""
    keys = MatchKeys("смирнова", "мария", None, None, None, None)

    def bulk() -> None:
        with store.bulk_import(0) as writer:
            writer.add_organisations(ORGS)

    return {
        "audit_chains": store.audit_chains,
        "audit_heads": store.audit_heads,
        "audit_roots": store.audit_roots,
        "bulk_import": bulk,
        "add": lambda: store.add(LinkRequest("r1", "a1", ISSUER, "s1", "full name", NOW)),
        "pending": store.pending,
        "get": lambda: store.get("r1"),
        "consume": lambda: store.consume("r1"),
        "expire": lambda: store.expire(NOW),
        "erase_account": lambda: store.erase_account("a1"),
        "erase_subject": lambda: store.erase_subject(ISSUER, "s1"),
        "chain_events": lambda: store.chain_events(0),
        "count_accounts": store.count_accounts,
        "create_link": lambda: store.create_link(link("a1", "s2"), event("a1", "s2")),
        "erase_values": lambda: store.erase_values(account_ids=["a9"]),
        "events": store.events,
        "find_accounts": lambda: store.find_accounts(keys, ISSUER),
        "find_by_login": lambda: store.find_by_login("sch1", "m"),
        "get_account": lambda: store.get_account("a1"),
        "get_entry": lambda: store.get_entry("a1", ISSUER),
        "get_organisation": lambda: store.get_organisation("sch1"),
        "get_organization": lambda: store.get_organization("sch1"),
        "import_accounts": lambda: store.import_accounts([make_account("a2")]),
        "linked_accounts": lambda: store.linked_accounts(ISSUER, "s1"),
        "links_for_account": lambda: store.links_for_account("a1"),
        "links_for_subject": lambda: store.links_for_subject(ISSUER, "s1"),
        "list_accounts": store.list_accounts,
        "list_links": store.list_links,
        "list_organisations": store.list_organisations,
        "list_organizations": store.list_organizations,
        "ping": store.ping,
        "record": lambda: store.record(event()),
        "record_many": lambda: store.record_many([event(), event()]),
        "records_of": lambda: store.records_of(account_ids=["a1"]),
        "remove_link": lambda: store.remove_link(ISSUER, "s1", "a1", event()),
        "hidden_accounts": lambda: store.hidden_accounts(ISSUER, "s1"),
        "hide_account": lambda: store.hide_account(ISSUER, "s1", "a1", event()),
        "show_account": lambda: store.show_account(ISSUER, "s1", "a1", event()),
        "seal": store.seal,
        "store_purged": lambda: store.store_purged([]),
        "tail": store.tail,
        "verify_chains": lambda: store.verify_chains([ChainStart(0)], 100),
    }


def public_methods(cls: type) -> set[str]:
    return {
        name
        for name in dir(cls)
        if not name.startswith("_")
        and name != "close"
        and inspect.isfunction(inspect.getattr_static(cls, name))
    }


def test_the_scan_covers_every_public_method(sqlite_store: SqlStore) -> None:
    assert set(calls(sqlite_store)) == public_methods(SqlStore)


@pytest.mark.postgres
def test_every_method_is_unavailable_when_the_database_refuses(
    pg_store: tuple[FaultProxy, SqlStore],
) -> None:
    proxy, store = pg_store
    proxy.set_mode("refuse")
    for name, call in calls(store).items():
        error, took = unavailable(call)
        assert took < FAST.connect_timeout + SLACK, (name, took)
        assert "Traceback" not in error.message, name


@pytest.mark.postgres
def test_a_hung_database_fails_within_the_answer_timeout(
    pg_store: tuple[FaultProxy, SqlStore],
) -> None:
    proxy, store = pg_store
    store.get_account("a1")  # connections in the pool
    proxy.set_mode("hang")
    bound = FAST.answer_timeout + SLACK
    for call in (
        lambda: store.get_account("a1"),  # SQLAlchemy
        lambda: store.links_for_subject(ISSUER, "s1"),  # the driver, on a pooled connection
        lambda: store.record(event()),
        store.ping,
    ):
        _error, took = unavailable(call)
        assert took < FAST.connect_timeout + bound, took


@pytest.mark.postgres
def test_the_store_recovers_after_the_fault(pg_store: tuple[FaultProxy, SqlStore]) -> None:
    proxy, store = pg_store
    for fault in ("refuse", "hang"):
        proxy.set_mode(fault)
        unavailable(lambda: store.get_account("a1"))
        unavailable(lambda: store.links_for_subject(ISSUER, "s1"))
        proxy.set_mode("pass")
        deadline = time.monotonic() + FAST.reconnect_backoff_max + FAST.connect_timeout + SLACK
        while True:
            try:
                assert store.get_account("a1") is not None
                assert [x.account_id for x in store.links_for_subject(ISSUER, "s1")] == ["a1"]
                store.record(event())
                break
            except StoreError:
                assert time.monotonic() < deadline, f"no recovery after {fault}"
                time.sleep(0.05)


@pytest.mark.postgres
def test_server_timeouts_apply_and_a_lock_wait_is_unavailable(
    proxied: tuple[FaultProxy, str], postgres_schema_url: str
) -> None:
    _proxy, url = proxied
    store = open_store(url, KEY, settings=FAST)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "500ms"
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "300ms"
            # the URL's own options are kept
            assert conn.exec_driver_sql("SHOW search_path").scalar().startswith("t_")
        blocker = sa.create_engine(postgres_schema_url)
        with blocker.begin() as conn:
            conn.exec_driver_sql("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
            error, took = unavailable(lambda: store.get_account("a1"))
            assert "lock timeout" in error.message
            assert took < FAST.lock_timeout + SLACK
        blocker.dispose()
        assert store.get_account("a1") is None
    finally:
        store.close()


@pytest.mark.postgres
def test_a_full_pool_and_bulkhead_refuse_within_the_pool_timeout(
    proxied: tuple[FaultProxy, str],
) -> None:
    proxy, url = proxied
    settings = attrs_evolve(FAST, pool_size=1, max_overflow=0, queue=1, answer_margin=1.5)
    store = SqlEphemeralStore(create_engine(url, settings))
    store.put("k", "x", b"v", NOW + timedelta(hours=1), NOW)
    proxy.set_mode("hang")
    stuck = threading.Thread(target=unavailable, args=(lambda: store.get("k", "x", NOW),))
    stuck.start()
    time.sleep(0.2)  # the one slot is taken by the hung call
    waiting = ThreadPoolExecutor(1).submit(unavailable, lambda: store.get("k", "x", NOW))
    time.sleep(0.1)  # ... and the one place in the queue
    _error, took = unavailable(lambda: store.get("k", "x", NOW))
    assert took < 0.1  # refused at once
    error, took = waiting.result()
    assert "finished within" in error.message
    assert settings.pool_timeout - 0.05 < took < settings.pool_timeout + SLACK
    stuck.join()
    proxy.set_mode("pass")
    store.close()


def attrs_evolve(settings: DatabaseSettings, **changes: Any) -> DatabaseSettings:
    import attrs  # noqa: PLC0415

    return attrs.evolve(settings, **changes)


@pytest.mark.postgres
def test_threads_stuck_on_the_database_leave_the_workers_to_redis_only_work(
    proxied: tuple[FaultProxy, str],
) -> None:
    """A web server's pool of 4 threads: 20 logins' database calls on a hung database, then
    a session check that needs only the short-lived store. It is answered at once: beyond
    the bulkhead's 2 slots and 1 waiting place, database calls are refused at once."""
    proxy, url = proxied
    settings = attrs_evolve(FAST, pool_size=2, max_overflow=0, queue=1, answer_margin=1.5)
    store = SqlEphemeralStore(create_engine(url, settings))
    sessions = InMemoryEphemeralStore()
    sessions.put("session", "s", b"ok", NOW + timedelta(hours=1), NOW)
    store.get("k", "x", NOW)
    proxy.set_mode("hang")

    def login() -> str:
        try:
            store.get("k", "x", NOW)
        except StoreError as exc:
            return exc.code
        return "ok"

    workers = ThreadPoolExecutor(4)
    try:
        logins = [workers.submit(login) for _ in range(20)]
        started = time.monotonic()
        check = workers.submit(sessions.get, "session", "s", NOW)
        assert check.result(timeout=settings.pool_timeout + SLACK) == b"ok"
        assert time.monotonic() - started < settings.pool_timeout + 0.5
        bound = settings.answer_timeout + SLACK
        assert {f.result(timeout=bound) for f in logins} == {"store.unavailable"}
    finally:
        workers.shutdown(wait=False, cancel_futures=True)
    bulkhead = guard_for(store.engine).bulkhead
    assert (bulkhead.in_use, bulkhead.waiting) == (0, 0)
    proxy.set_mode("pass")
    store.close()


@pytest.mark.postgres
def test_too_many_connections_for_a_role_is_unavailable(postgres_schema_url: str) -> None:
    role = "t_role_" + secrets.token_hex(4)
    admin = sa.create_engine(postgres_schema_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0")
    try:
        url = sa.make_url(postgres_schema_url).set(username=role)
        store = SqlEphemeralStore(create_engine(url.render_as_string(hide_password=False), FAST))
        error, _took = unavailable(lambda: store.get("k", "x", NOW))
        assert "too many connections" in error.message
        unavailable(store.ping)
        store.close()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


@pytest.mark.postgres
def test_credentials_and_open_store_are_guarded_too(proxied: tuple[FaultProxy, str]) -> None:
    proxy, url = proxied
    credentials = SqlCredentialStore(create_engine(url, FAST), KEY)
    assert credentials.get("a1") is None
    proxy.set_mode("refuse")
    unavailable(lambda: credentials.get("a1"))
    unavailable(lambda: credentials.set_password("a1", "h", NOW))
    unavailable(lambda: open_store(url, KEY, settings=FAST))
    credentials.engine.dispose()


def test_sqlite_still_works_and_its_faults_are_unavailable(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'b.db'}", KEY)
    store.import_accounts([make_account("a1")], ORGS)
    assert store.get_account("a1") is not None
    store.ping()
    InMemoryEphemeralStore().ping()
    store.close()
    (tmp_path / "dir.db").mkdir()
    broken = SqlEphemeralStore(create_engine(f"sqlite:///{tmp_path / 'dir.db'}"))
    unavailable(lambda: broken.get("k", "x", NOW))
    unavailable(broken.ping)


def test_nested_calls_on_one_thread_hold_one_slot(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'n.db'}", FAST)
    store = SqlEphemeralStore(engine)
    credentials = SqlCredentialStore(engine, KEY)
    guard = guard_for(engine)
    with guard.call():
        nested = [guard.enter() for _ in range(guard.bulkhead.slots + 2)]  # no wait
        assert guard.bulkhead.in_use == 1
        store.put("k", "x", b"v", NOW + timedelta(hours=1), NOW)
        assert credentials.get("a1") is None
        for call in nested:
            guard.leave(call)
    assert guard.bulkhead.in_use == 0


@contextlib.contextmanager
def every_slot_taken(store: SqlStore) -> Iterator[None]:
    """Every slot of the store's bulkhead held, as by calls stuck on the database."""
    bulkhead = guard_for(store.engine).bulkhead
    for _ in range(bulkhead.slots):
        bulkhead.acquire()
    try:
        yield
    finally:
        for _ in range(bulkhead.slots):
            bulkhead.release()


def test_on_sqlite_the_reads_of_every_login_take_no_slot_and_keep_their_error_mapping(
    tmp_path: Path,
) -> None:
    """A file has no server to hang: the matcher's and the link lookup's reads are bounded
    by the pool alone, so they answer while every bulkhead slot is taken; any other
    method waits for a slot, and a fault of those reads is still ``store.unavailable``."""
    settings = attrs_evolve(FAST, busy_timeout=0.3)
    store = open_store(f"sqlite:///{tmp_path / 'light.db'}", KEY, settings=settings)
    store.import_accounts([make_account("a1")], ORGS)
    store.create_link(link("a1"), event())
    keys = MatchKeys("смирнова", "мария", None, None, None, None)
    with every_slot_taken(store):
        entry = store.get_entry("a1", ISSUER)
        assert entry is not None and entry.linked_subject == "s1"
        found = store.find_accounts(entry.keys, ISSUER)
        assert [e.account.account_id for e in found] == ["a1"]
        assert [a.account_id for a in store.linked_accounts(ISSUER, "s1")] == ["a1"]
        assert store.hidden_accounts(ISSUER, "s1") == frozenset()
        error, _took = unavailable(lambda: store.get_account("a1"))
        assert "no database call finished" in error.message
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE links")
    unavailable(lambda: store.linked_accounts(ISSUER, "s1"))
    unavailable(lambda: store.find_accounts(keys, ISSUER))
    store.close()


@pytest.mark.postgres
def test_on_postgresql_the_reads_of_every_login_take_a_slot(
    pg_store: tuple[FaultProxy, SqlStore],
) -> None:
    _proxy, store = pg_store
    keys = MatchKeys("смирнова", "мария", None, None, None, None)
    with every_slot_taken(store):
        unavailable(lambda: store.find_accounts(keys, ISSUER))
        unavailable(lambda: store.linked_accounts(ISSUER, "s1"))
    assert [a.account_id for a in store.linked_accounts(ISSUER, "s1")] == ["a1"]
