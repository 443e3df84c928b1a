"""A store call waits for the database at most ``answer_timeout`` in all (its slot, a new
connection and the answer), a request that waited it out waits no more, and a connection
lost on the driver path takes the pool's older connections with it.

PostgreSQL runs behind the TCP proxy of tests/store/_proxy.py.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import attrs
import pytest
import sqlalchemy as sa

from helpers.accounts import ISSUER, KEY, ORGS, make_account
from sso_bridge.errors import StoreError
from sso_bridge.store import open_store
from sso_bridge.store.settings import DatabaseSettings
from sso_bridge.store.sql import SqlStore
from store._proxy import FaultProxy, unavailable
from store.test_faults_sql import FAST, SLACK, event, link

pytestmark = pytest.mark.postgres

# libpq waits whole seconds for a connection, two at least: three here, so that a wait
# bounded by the call's deadline (one second) is told apart from libpq's own
SLOW_CONNECT = attrs.evolve(FAST, connect_timeout=3)


def _store(url: str, settings: DatabaseSettings) -> SqlStore:
    store = open_store(url, KEY, settings=settings)
    store.root_interval = None
    return store


@pytest.fixture
def proxied(postgres_schema_url: str) -> Iterator[tuple[FaultProxy, str]]:
    url = sa.make_url(postgres_schema_url)
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        yield proxy, url.set(port=proxy.port).render_as_string(hide_password=False)
    finally:
        proxy.stop()


@pytest.fixture
def slow_connect(proxied: tuple[FaultProxy, str]) -> Iterator[tuple[FaultProxy, SqlStore]]:
    proxy, url = proxied
    store = _store(url, SLOW_CONNECT)
    store.import_accounts([make_account("a1")], ORGS)
    store.create_link(link("a1"), event())
    yield proxy, store
    store.close()


def test_a_new_connection_is_waited_for_no_longer_than_the_deadline(
    slow_connect: tuple[FaultProxy, SqlStore],
) -> None:
    proxy, store = slow_connect
    store.engine.pool.dispose()  # no connection kept: the next call opens one
    proxy.set_mode("hang")  # the connect is accepted, and never answered
    for call in (lambda: store.get_account("a1"), lambda: store.record(event())):
        _error, took = unavailable(call)
        assert took < SLOW_CONNECT.answer_timeout + SLACK < SLOW_CONNECT.connect_timeout, took
    proxy.set_mode("pass")


def test_the_wait_for_a_slot_counts_within_the_deadline(proxied: tuple[FaultProxy, str]) -> None:
    proxy, url = proxied
    # a slot may be waited for up to 5 s by itself, but the call has one second in all
    settings = attrs.evolve(FAST, pool_size=1, max_overflow=0, queue=1, pool_timeout=5.0)
    store = _store(url, settings)
    store.get_account("a1")
    proxy.set_mode("hang")
    stuck = threading.Thread(target=unavailable, args=(lambda: store.get_account("a1"),))
    stuck.start()
    time.sleep(0.2)  # the one slot is taken by the hung call
    _error, took = unavailable(lambda: store.get_account("a1"))
    assert took < settings.answer_timeout + SLACK < settings.pool_timeout, took
    stuck.join()
    proxy.set_mode("pass")
    store.close()


@pytest.mark.parametrize("path", ["sqlalchemy", "driver"])
def test_a_request_that_waited_out_its_deadline_waits_no_more(
    slow_connect: tuple[FaultProxy, SqlStore], path: str
) -> None:
    proxy, store = slow_connect
    store.get_account("a1")
    proxy.set_mode("hang")
    if path == "sqlalchemy":
        lookup: Callable[[], object] = lambda: store.get_account("a1")  # noqa: E731
    else:
        lookup = lambda: store.links_for_subject(ISSUER, "s1")  # noqa: E731
    first, waited, then, took = _refused_and_audited(store, lookup)
    assert first.code == "store.unavailable"
    assert SLOW_CONNECT.answer_timeout - 0.05 < waited < SLOW_CONNECT.answer_timeout + SLACK
    # what a refusal does next, its audit record: refused at once, no second wait
    assert then is not None
    assert then.code == "store.unavailable"
    assert "waited for the database already" in then.message
    assert took < 0.2
    # the next request (no error being handled) has its own deadline: it waits again
    time.sleep(SLOW_CONNECT.reconnect_backoff_max)  # a failed connect's backoff is over
    started = time.monotonic()
    with pytest.raises(StoreError):
        store.record(event())
    assert time.monotonic() - started > SLOW_CONNECT.answer_timeout - 0.05
    proxy.set_mode("pass")


def test_a_connection_lost_on_the_driver_path_takes_the_older_ones_with_it(
    proxied: tuple[FaultProxy, str],
) -> None:
    proxy, url = proxied
    # no ping on taking a connection: a dead one is met by a statement
    settings = attrs.evolve(FAST, pool_size=4, max_overflow=0, ping_after=3600)
    store = _store(url, settings)
    held = [store.engine.raw_connection() for _ in range(4)]
    for conn in held:
        conn.close()  # four connections in the pool
    proxy.set_mode("refuse")  # drops every connection
    with contextlib.suppress(OSError):  # wakes the proxy's accept, which lets go of the port
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
    time.sleep(0.1)
    proxy.set_mode("pass")
    errors: list[StoreError] = []
    for _ in range(8):  # the audit append runs on the driver and is not tried again
        try:
            store.record(event())
        except StoreError as exc:
            errors.append(exc)
    failures = len(errors)
    assert all(e.code == "store.unavailable" for e in errors), errors
    assert failures <= 1, f"{failures} appends met a dead pooled connection"
    assert store.links_for_subject(ISSUER, "s1") == []
    store.close()


def _refused_and_audited(
    store: SqlStore, lookup: Callable[[], object]
) -> tuple[StoreError, float, StoreError | None, float]:
    """A lookup that fails, and the audit record of its refusal written while handling
    it (as the broker does): both errors and how long each took."""
    started = time.monotonic()
    try:
        lookup()
    except StoreError as exc:
        waited = time.monotonic() - started
        started = time.monotonic()
        try:
            store.record(event())
        except StoreError as audit:
            return exc, waited, audit, time.monotonic() - started
        return exc, waited, None, time.monotonic() - started
    pytest.fail("a hung database answered")
