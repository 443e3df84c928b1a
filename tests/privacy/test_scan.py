"""What an erasure relies on in the short-lived store: ``scan`` pages through every live
entry of a kind on every backend, and a kept request is found by its account without the
browser's id (and one kept before the account's tag still opens)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest

from helpers.clock import NOW
from privacy.conftest import redis_url
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.sessions import RequestKeeper, SavedRequest
from sso_bridge.sessions.kept import KEPT_REQUEST_KIND, discard_account
from sso_bridge.store.memory import InMemoryEphemeralStore
from sso_bridge.store.sql import create_engine
from sso_bridge.store.sql_ephemeral import SqlEphemeralStore

KEY = bytes(range(32))


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "redis"]
)
def store(request: pytest.FixtureRequest) -> Iterator[EphemeralStore]:
    if request.param == "memory":
        yield InMemoryEphemeralStore()
        return
    if request.param == "redis":
        from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415

        prefix = f"test-scan-{secrets.token_hex(6)}:*"  # a glob character in the prefix
        redis_store = RedisEphemeralStore.from_url(redis_url(), prefix)
        yield redis_store
        for name in redis_store.client.scan_iter(match=f"test-scan-{prefix[10:22]}*"):
            redis_store.client.delete(name)
        redis_store.close()
        return
    if request.param == "postgres" and not os.environ.get("SSO_BRIDGE_TEST_POSTGRES"):
        pytest.skip("SSO_BRIDGE_TEST_POSTGRES is not set: no PostgreSQL server to test against")
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_schema_url"
    sql_store = SqlEphemeralStore(create_engine(str(request.getfixturevalue(fixture))))
    yield sql_store
    sql_store.close()


def test_scan_pages_through_every_live_entry_of_a_kind(store: EphemeralStore) -> None:
    live = {f"key-{i:03d}": b"%d" % i for i in range(120)}
    for key, value in live.items():
        store.put("scanned", key, value, NOW + timedelta(minutes=5), NOW, owner="o")
    store.put("scanned", "gone", b"x", NOW + timedelta(seconds=1), NOW)
    store.put("other", "key-000", b"not this kind", NOW + timedelta(minutes=5), NOW)

    seen: dict[str, bytes] = {}
    cursor, pages = None, 0
    while True:
        found, cursor = store.scan("scanned", NOW + timedelta(seconds=2), cursor, 25)
        seen.update(found)
        pages += 1
        if cursor is None:
            break
    assert seen == live
    assert pages > 1
    assert store.scan("nothing", NOW) == ([], None)


def test_kept_requests_are_found_by_account_without_the_browser(store: EphemeralStore) -> None:
    keeper = RequestKeeper(store, KEY)
    mine = [
        keeper.keep(SavedRequest("POST", "/a", (), "acc-1"), browser_id=f"b{i}", now=NOW)
        for i in range(3)
    ]
    theirs = keeper.keep(SavedRequest("GET", "/b", (), "acc-2"), browser_id="b9", now=NOW)

    assert discard_account(store, "acc-1", NOW) == 3
    assert all(store.get(KEPT_REQUEST_KIND, keep_id, NOW) is None for keep_id in mine)
    assert keeper.restore(theirs, browser_id="b9", account_id="acc-2", now=NOW).path == "/b"
    assert discard_account(store, "acc-1", NOW) == 0


def test_a_request_kept_before_the_tag_still_opens(store: EphemeralStore) -> None:
    keeper = RequestKeeper(store, KEY)
    keep_id = keeper.keep(SavedRequest("GET", "/old", (), "acc-1"), browser_id="b", now=NOW)
    data = store.get(KEPT_REQUEST_KIND, keep_id, NOW)
    assert data is not None and data[:1] == b"\x02"
    # the layout before the tag: nonce and ciphertext, the tag not bound
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

    from sso_bridge.sessions import kept  # noqa: PLC0415

    plain = kept._to_bytes(SavedRequest("GET", "/old", (), "acc-1"))
    nonce = secrets.token_bytes(12)
    aead: AESGCM = keeper._aead
    legacy = nonce + aead.encrypt(nonce, plain, kept._associated_data(keep_id, "b"))
    store.put(KEPT_REQUEST_KIND, keep_id, legacy, NOW + timedelta(minutes=5), NOW)
    assert keeper.restore(keep_id, browser_id="b", account_id="acc-1", now=NOW).path == "/old"
