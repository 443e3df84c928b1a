"""Local passwords: policy, argon2id, lockout and unlock, rehash, unknown logins."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import argon2
import pytest

from helpers.clock import NOW
from sso_bridge.errors import ConfigError
from sso_bridge.mfa.credentials import CredentialStore, InMemoryCredentialStore
from sso_bridge.mfa.errors import AccountLocked, AuthError, BadPassword
from sso_bridge.mfa.passwords import LocalPasswords, PasswordPolicy, password_hasher

GOOD = "ёлка-2026-зима"
WRONG = "ёлка-2025-зима"


@pytest.fixture
def passwords(credentials: CredentialStore, fast_hasher: argon2.PasswordHasher) -> LocalPasswords:
    local = LocalPasswords(credentials, hasher=fast_hasher)
    local.set_password("a1", GOOD, NOW)
    return local


def _code(call: object) -> str:
    assert callable(call)
    with pytest.raises(AuthError) as exc:
        call()
    return exc.value.code


def test_right_password_passes_and_the_hash_is_argon2id(passwords: LocalPasswords) -> None:
    passwords.check("a1", GOOD, NOW)
    record = passwords.credentials.get("a1")
    assert record is not None
    assert record.password_hash is not None
    assert record.password_hash.startswith("$argon2id$")
    assert GOOD not in record.password_hash
    assert record.password_set_at == NOW


def test_wrong_password_counts_down_then_locks(passwords: LocalPasswords) -> None:
    for left in (4, 3, 2, 1):
        with pytest.raises(BadPassword) as exc:
            passwords.check("a1", WRONG, NOW)
        assert exc.value.code == "auth.bad_password"
        assert exc.value.attempts_left == left
        assert f"{left} attempt" in exc.value.message
    with pytest.raises(AccountLocked) as locked:
        passwords.check("a1", WRONG, NOW)
    assert locked.value.code == "auth.locked"
    assert locked.value.message == (
        "the account is locked after 5 failed logins; ask the school administrator to unlock it"
    )
    assert locked.value.locked_until is None


def test_a_locked_account_refuses_the_right_password(passwords: LocalPasswords) -> None:
    for _ in range(5):
        with pytest.raises(AuthError):
            passwords.check("a1", WRONG, NOW)
    assert _code(lambda: passwords.check("a1", GOOD, NOW + timedelta(days=30))) == "auth.locked"
    passwords.unlock("a1")
    passwords.check("a1", GOOD, NOW + timedelta(days=30))
    record = passwords.credentials.get("a1")
    assert record is not None
    assert (record.failed_logins, record.locked_at) == (0, None)


def test_success_resets_the_counter(passwords: LocalPasswords) -> None:
    for _ in range(4):
        with pytest.raises(BadPassword):
            passwords.check("a1", WRONG, NOW)
    passwords.check("a1", GOOD, NOW)
    for left in (4, 3, 2, 1):
        with pytest.raises(BadPassword) as exc:
            passwords.check("a1", WRONG, NOW)
        assert exc.value.attempts_left == left


def test_timed_lockout_ends_by_itself(
    credentials: CredentialStore, fast_hasher: argon2.PasswordHasher
) -> None:
    local = LocalPasswords(
        credentials, max_failures=3, lockout=timedelta(minutes=15), hasher=fast_hasher
    )
    local.set_password("a1", GOOD, NOW)
    for _ in range(2):
        with pytest.raises(BadPassword):
            local.check("a1", WRONG, NOW)
    with pytest.raises(AccountLocked) as locked:
        local.check("a1", WRONG, NOW)
    until = NOW + timedelta(minutes=15)
    assert locked.value.locked_until == until
    assert locked.value.message.endswith(f"try again after {until:%H:%M} UTC")
    assert _code(lambda: local.check("a1", GOOD, until - timedelta(seconds=1))) == "auth.locked"
    with pytest.raises(BadPassword) as again:
        local.check("a1", WRONG, until)
    assert again.value.attempts_left == 2  # counting starts over once the lock has ended
    local.check("a1", GOOD, until)


def test_no_password(passwords: LocalPasswords) -> None:
    assert _code(lambda: passwords.check("nobody", GOOD, NOW)) == "auth.no_password"
    passwords.credentials.set_contacts("a2", phone="+79123456767")
    assert _code(lambda: passwords.check("a2", GOOD, NOW)) == "auth.no_password"


class CountingHasher(argon2.PasswordHasher):
    calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.calls += 1
        return super().verify(hash, password)


def test_unknown_logins_spend_one_argon2_verification() -> None:
    hasher = CountingHasher(time_cost=1, memory_cost=64, parallelism=1)
    local = LocalPasswords(InMemoryCredentialStore(), hasher=hasher)
    local.check_unknown("anything")
    assert hasher.calls == 1
    with pytest.raises(AuthError):
        local.check("nobody", "anything", NOW)
    assert hasher.calls == 2
    local.set_password("a1", GOOD, NOW)
    local.check("a1", GOOD, NOW)
    assert hasher.calls == 3


def test_rehash_when_parameters_change(fast_hasher: argon2.PasswordHasher) -> None:
    store = InMemoryCredentialStore()
    LocalPasswords(store, hasher=fast_hasher).set_password("a1", GOOD, NOW)
    old = store.get("a1")
    assert old is not None
    assert old.password_hash is not None
    assert ",t=1," in old.password_hash
    stronger = LocalPasswords(
        store, hasher=password_hasher(time_cost=2, memory_cost=128, parallelism=1)
    )
    stronger.check("a1", GOOD, NOW)
    new = store.get("a1")
    assert new is not None
    assert new.password_hash is not None
    assert "m=128,t=2,p=1" in new.password_hash
    stronger.check("a1", GOOD, NOW)
    assert store.get("a1") == new  # no rehash when nothing changed


def test_unicode_forms_of_one_password_match(passwords: LocalPasswords) -> None:
    decomposed = unicodedata.normalize("NFD", "йод-2026-лето")
    passwords.set_password("a2", decomposed, NOW)
    passwords.check("a2", unicodedata.normalize("NFC", decomposed), NOW)


def test_an_overlong_password_is_just_wrong(passwords: LocalPasswords) -> None:
    with pytest.raises(BadPassword):
        passwords.check("a1", GOOD * 1000, NOW)


def test_a_broken_hash_is_reported(credentials: CredentialStore) -> None:
    credentials.set_password("a1", "not-a-hash", NOW)
    local = LocalPasswords(credentials, hasher=password_hasher(time_cost=1, memory_cost=64))
    assert _code(lambda: local.check("a1", GOOD, NOW)) == "auth.bad_hash"


def test_bad_settings() -> None:
    store = InMemoryCredentialStore()
    with pytest.raises(ConfigError):
        LocalPasswords(store, hasher=password_hasher(time_cost=0))
    with pytest.raises(ConfigError):
        LocalPasswords(store, max_failures=0, hasher=password_hasher(time_cost=1, memory_cost=64))


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("ab1", "at least 8 characters"),
        ("a1" * 129, "at most 256 characters"),
        ("abcdefg1\n", "control characters"),
        ("12345678901", "at least one letter"),
        ("пароль-без-цифр", "at least one digit"),
        ("aaaa1111", "at least 4 different characters"),
        ("Password1", "most common passwords"),
        ("ЙЦУКЕН123", "most common passwords"),
    ],
)
def test_policy_names_the_broken_rule(password: str, rule: str) -> None:
    with pytest.raises(AuthError) as exc:
        PasswordPolicy().check(password)
    assert exc.value.code == "auth.weak_password"
    assert rule in exc.value.message
    assert password not in exc.value.message


def test_policy_accepts_and_is_configurable(fast_hasher: argon2.PasswordHasher) -> None:
    PasswordPolicy().check(GOOD)
    PasswordPolicy(min_length=4, require_digit=False, min_distinct=2).check("abab")
    store = InMemoryCredentialStore()
    local = LocalPasswords(store, policy=PasswordPolicy(min_length=12), hasher=fast_hasher)
    with pytest.raises(AuthError) as exc:
        local.set_password("a1", "short-pw-1", NOW)
    assert exc.value.code == "auth.weak_password"
    assert store.get("a1") is None
