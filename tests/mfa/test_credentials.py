"""The credential store contract, over memory, SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from sso_bridge.errors import ConfigError, InvalidInput, StoreError
from sso_bridge.mfa.credentials import Credentials, CredentialStore
from sso_bridge.store.sql import create_engine
from sso_bridge.store.sql_credentials import SqlCredentialStore, credentials_table

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SECRET = b"12345678901234567890"
KEY = bytes(range(100, 132))


def test_nothing_stored_reads_as_none(credentials: CredentialStore) -> None:
    assert credentials.get("nobody") is None
    assert credentials.use_totp_step("nobody", 1) is False
    credentials.unlock("nobody")
    credentials.remove_totp("nobody")
    credentials.reset_failed_logins("nobody", NOW)
    assert credentials.get("nobody") is None  # none of these creates a record


def test_password_round_trip(credentials: CredentialStore) -> None:
    moscow = timezone(timedelta(hours=3))
    credentials.set_password("a1", "$argon2id$one", NOW.astimezone(moscow))
    got = credentials.get("a1")
    assert got == Credentials("a1", password_hash="$argon2id$one", password_set_at=NOW)
    assert got is not None
    assert got.password_set_at is not None
    assert got.password_set_at.utcoffset() == timedelta(0)
    credentials.set_password("a1", "$argon2id$two", NOW + timedelta(days=1))
    got = credentials.get("a1")
    assert got is not None
    assert (got.password_hash, got.password_set_at) == ("$argon2id$two", NOW + timedelta(days=1))


def test_replace_password_hash_only_from_the_expected_one(credentials: CredentialStore) -> None:
    credentials.set_password("a1", "old", NOW)
    assert credentials.replace_password_hash("a1", "stale", "new") is False
    assert credentials.replace_password_hash("a1", "old", "new") is True
    assert credentials.replace_password_hash("a2", "old", "new") is False
    got = credentials.get("a1")
    assert got is not None
    assert got.password_hash == "new"
    assert got.password_set_at == NOW  # a rehash is not a new password


def test_failures_count_up_and_lock_at_the_limit(credentials: CredentialStore) -> None:
    credentials.set_password("a1", "h", NOW)
    for n in range(1, 5):
        after = credentials.record_failed_login("a1", NOW + timedelta(seconds=n), 5, None)
        assert (after.failed_logins, after.locked_at) == (n, None)
    locked = credentials.record_failed_login("a1", NOW + timedelta(seconds=5), 5, None)
    assert locked.failed_logins == 5
    assert locked.locked_at == NOW + timedelta(seconds=5)
    assert locked.locked_until is None
    assert locked.locked(NOW + timedelta(days=365))
    again = credentials.record_failed_login("a1", NOW + timedelta(seconds=6), 5, None)
    assert again.locked_at == NOW + timedelta(seconds=5)  # the first lock time stays
    assert credentials.get("a1") == again


def test_a_timed_lock_ends_and_counting_restarts(credentials: CredentialStore) -> None:
    credentials.set_password("a1", "h", NOW)
    for _ in range(3):
        after = credentials.record_failed_login("a1", NOW, 3, timedelta(minutes=15))
    assert after.locked_until == NOW + timedelta(minutes=15)
    assert after.locked(NOW + timedelta(minutes=14))
    assert not after.locked(NOW + timedelta(minutes=15))
    later = credentials.record_failed_login("a1", NOW + timedelta(minutes=15), 3, None)
    assert (later.failed_logins, later.locked_at, later.locked_until) == (1, None, None)


def test_reset_keeps_a_lock_in_force(credentials: CredentialStore) -> None:
    credentials.set_password("a1", "h", NOW)
    credentials.record_failed_login("a1", NOW, 1, timedelta(minutes=10))
    credentials.reset_failed_logins("a1", NOW + timedelta(minutes=9))
    got = credentials.get("a1")
    assert got is not None
    assert got.locked(NOW + timedelta(minutes=9))
    credentials.reset_failed_logins("a1", NOW + timedelta(minutes=10))
    got = credentials.get("a1")
    assert got is not None
    assert (got.failed_logins, got.locked_at, got.locked_until) == (0, None, None)


def test_unlock_lifts_any_lock(credentials: CredentialStore) -> None:
    credentials.set_password("a1", "h", NOW)
    credentials.record_failed_login("a1", NOW, 1, None)
    credentials.unlock("a1")
    got = credentials.get("a1")
    assert got is not None
    assert (got.failed_logins, got.locked_at, got.locked_until) == (0, None, None)
    assert got.password_hash == "h"


def test_totp_round_trip_and_steps_only_move_forward(credentials: CredentialStore) -> None:
    credentials.set_totp("a1", SECRET, algorithm="SHA256", digits=8, last_step=100)
    got = credentials.get("a1")
    assert got is not None
    assert (got.totp_secret, got.totp_algorithm, got.totp_digits) == (SECRET, "sha256", 8)
    assert got.totp_enrolled
    assert got.totp_last_step == 100
    assert credentials.use_totp_step("a1", 100) is False
    assert credentials.use_totp_step("a1", 99) is False
    assert credentials.use_totp_step("a1", 101) is True
    assert credentials.use_totp_step("a1", 101) is False
    credentials.remove_totp("a1")
    got = credentials.get("a1")
    assert got is not None
    assert (got.totp_secret, got.totp_last_step, got.totp_enrolled) == (None, None, False)
    assert credentials.use_totp_step("a1", 500) is False


def test_first_step_after_enrolment_without_a_step(credentials: CredentialStore) -> None:
    credentials.set_totp("a1", SECRET)
    assert credentials.use_totp_step("a1", 0) is True
    assert credentials.use_totp_step("a1", 0) is False


def test_totp_settings_are_checked(credentials: CredentialStore) -> None:
    with pytest.raises(InvalidInput):
        credentials.set_totp("a1", SECRET, algorithm="md5")
    with pytest.raises(InvalidInput):
        credentials.set_totp("a1", SECRET, digits=7)


def test_contacts_replace_both(credentials: CredentialStore) -> None:
    credentials.set_contacts("a1", phone="+79123456767", email="m@example.org")
    got = credentials.get("a1")
    assert got is not None
    assert (got.phone, got.email, got.password_hash) == ("+79123456767", "m@example.org", None)
    credentials.set_contacts("a1", phone="+79000000000")
    got = credentials.get("a1")
    assert got is not None
    assert (got.phone, got.email) == ("+79000000000", None)


def test_secrets_and_contacts_stay_out_of_repr() -> None:
    record = Credentials(
        "a1",
        password_hash="$argon2id$HASH",
        totp_secret=b"SECRETBYTES",
        phone="+79123456767",
        email="m@example.org",
    )
    shown = repr(record)
    assert "a1" in shown
    for hidden in ("HASH", "SECRETBYTES", "9123456767", "example.org"):
        assert hidden not in shown


def _race(workers: int, job: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(workers)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        outcome = job()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_failures_are_all_counted(credentials: CredentialStore) -> None:
    credentials.set_password("a1", "h", NOW)
    _race(8, lambda: credentials.record_failed_login("a1", NOW, 5, None))
    got = credentials.get("a1")
    assert got is not None
    assert got.failed_logins == 8
    assert got.locked_at == NOW


def test_concurrent_uses_of_one_step_have_one_winner(credentials: CredentialStore) -> None:
    credentials.set_totp("a1", SECRET)
    results = _race(8, lambda: credentials.use_totp_step("a1", 1000))
    assert sorted(results, key=bool) == [False] * 7 + [True]


# -- the SQL store only ------------------------------------------------------------------------


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> sa.Engine:
    return create_engine(sqlite_url)


def test_totp_secret_is_sealed_at_rest(sqlite_engine: sa.Engine) -> None:
    store = SqlCredentialStore(sqlite_engine, KEY)
    store.set_totp("a1", SECRET)
    store.set_totp("a2", SECRET)
    with sqlite_engine.connect() as conn:
        query = sa.select(credentials_table.c.account_id, credentials_table.c.totp_secret)
        rows = {row[0]: row[1] for row in conn.execute(query)}
    assert SECRET not in rows["a1"]
    assert rows["a1"] != rows["a2"]  # a fresh nonce each time
    assert len(rows["a1"]) == 1 + 12 + len(SECRET) + 16


def test_another_key_cannot_read_the_secret(sqlite_engine: sa.Engine) -> None:
    SqlCredentialStore(sqlite_engine, KEY).set_totp("a1", SECRET)
    other = SqlCredentialStore(sqlite_engine, bytes(32))
    with pytest.raises(StoreError) as exc:
        other.get("a1")
    assert exc.value.code == "store.credentials_key_mismatch"
    assert SqlCredentialStore(sqlite_engine, KEY).get("a1") is not None


def test_a_secret_moved_to_another_account_is_refused(sqlite_engine: sa.Engine) -> None:
    store = SqlCredentialStore(sqlite_engine, KEY)
    store.set_totp("a1", SECRET)
    store.set_password("a2", "h", NOW)
    c = credentials_table.c
    with sqlite_engine.begin() as conn:
        sealed = conn.execute(sa.select(c.totp_secret).where(c.account_id == "a1")).scalar_one()
        conn.execute(
            credentials_table.update().where(c.account_id == "a2").values(totp_secret=sealed)
        )
    with pytest.raises(StoreError) as exc:
        store.get("a2")
    assert exc.value.code == "store.credentials_key_mismatch"


def test_short_secret_key_is_refused(sqlite_engine: sa.Engine) -> None:
    with pytest.raises(ConfigError):
        SqlCredentialStore(sqlite_engine, bytes(31))


def test_table_is_created_on_first_use_only(sqlite_engine: sa.Engine) -> None:
    store = SqlCredentialStore(sqlite_engine, KEY)
    assert not sa.inspect(sqlite_engine).has_table("credentials")
    assert store.get("a1") is None
    assert sa.inspect(sqlite_engine).has_table("credentials")


def test_stores_of_two_processes_share_the_counter(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    one, two = create_engine(url), create_engine(url)
    try:
        first, second = SqlCredentialStore(one, KEY), SqlCredentialStore(two, KEY)
        first.set_password("a1", "h", NOW)
        first.record_failed_login("a1", NOW, 2, None)
        after = second.record_failed_login("a1", NOW, 2, None)
        assert after.locked_at == NOW
        first.set_totp("a1", SECRET)
        assert second.use_totp_step("a1", 7) is True
        assert first.use_totp_step("a1", 7) is False
    finally:
        one.dispose()
        two.dispose()
