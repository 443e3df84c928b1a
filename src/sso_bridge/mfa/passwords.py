"""Local passwords: argon2id hashes, a strength policy, and lockout after failed logins.

A login that names no account costs and answers what a wrong password does: the check
spends the time of one verification with the current parameters, a stored hash cheaper
than those is topped up to that cost, and with a shared store an unknown login "locks"
after ``max_failures`` tries like a real one.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import unicodedata
from datetime import datetime, timedelta

import argon2
import attrs
from argon2.exceptions import (
    HashingError,
    InvalidHashError,
    VerificationError,
    VerifyMismatchError,
)

from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.errors import ConfigError
from sso_bridge.mfa.credentials import CredentialStore
from sso_bridge.mfa.errors import AccountLocked, AuthError, BadPassword
from sso_bridge.mfa.limits import SecondFactorBudget

__all__ = [
    "COMMON_PASSWORDS",
    "UNKNOWN_LOGIN_KIND",
    "LocalPasswords",
    "PasswordPolicy",
    "password_hasher",
]

UNKNOWN_LOGIN_KIND = "unknown_login"
"""The kind of the failure counts and locks of logins that name no account."""

_UNKNOWN_KEPT = timedelta(days=30)  # how long an unknown login's failures are remembered

COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "qwerty123",
        "qwertyuiop",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "12345678",
        "123456789",
        "1234567890",
        "87654321",
        "11111111",
        "00000000",
        "abc12345",
        "iloveyou1",
        "admin123",
        "school123",
        "йцукен123",
        "пароль123",
        "пароль1234",
    }
)
"""Passwords refused whatever their length (compared without regard to case)."""


def password_hasher(
    *,
    time_cost: int = 3,
    memory_cost: int = 64 * 1024,
    parallelism: int = 4,
    hash_len: int = 32,
    salt_len: int = 16,
) -> argon2.PasswordHasher:
    """An argon2id hasher; the defaults are RFC 9106's second recommendation (64 MiB).

    ``memory_cost`` is in KiB. Hashes made with other parameters still verify and are
    replaced by new ones at the next good login.
    """
    return argon2.PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        hash_len=hash_len,
        salt_len=salt_len,
        type=argon2.Type.ID,
    )


def _normalized(password: str) -> str:
    # The same letters typed on two systems can differ in Unicode composition (й).
    return unicodedata.normalize("NFC", password)


def _weak(rule: str) -> AuthError:
    return AuthError(f"the password is too weak: {rule}", code="auth.weak_password")


@attrs.frozen
class PasswordPolicy:
    """What a new password must be; :meth:`check` names the first rule it breaks."""

    min_length: int = 8
    max_length: int = 256
    require_letter: bool = True
    require_digit: bool = True
    min_distinct: int = 4
    common: frozenset[str] = COMMON_PASSWORDS

    def check(self, password: str) -> None:
        """Raise ``auth.weak_password`` naming the rule ``password`` breaks."""
        text = _normalized(password)
        if len(text) < self.min_length:
            raise _weak(f"it needs at least {self.min_length} characters")
        if len(text) > self.max_length:
            raise _weak(f"it may have at most {self.max_length} characters")
        if not text.isprintable():
            raise _weak("it may not contain control characters or line breaks")
        if self.require_letter and not any(c.isalpha() for c in text):
            raise _weak("it needs at least one letter")
        if self.require_digit and not any(c.isdigit() for c in text):
            raise _weak("it needs at least one digit")
        if len(set(text.casefold())) < self.min_distinct:
            raise _weak(f"it needs at least {self.min_distinct} different characters")
        if text.casefold() in self.common:
            raise _weak("it is one of the most common passwords")


class LocalPasswords:
    """Sets and checks local passwords, locking an account after ``max_failures``.

    Without ``lockout`` a locked account stays locked until :meth:`unlock`; with it the
    lock ends by itself after that time. ``store`` (the shared short-lived store) counts
    the failures of logins that name no account (:meth:`check_unknown_login`), and with
    ``second_factor`` :meth:`unlock` lifts the account's second-factor lock as well.
    """

    def __init__(
        self,
        credentials: CredentialStore,
        *,
        policy: PasswordPolicy | None = None,
        max_failures: int = 5,
        lockout: timedelta | None = None,
        hasher: argon2.PasswordHasher | None = None,
        store: EphemeralStore | None = None,
        second_factor: SecondFactorBudget | None = None,
    ) -> None:
        if max_failures < 1 or (lockout is not None and lockout <= timedelta(0)):
            raise ConfigError(
                "max_failures must be positive and lockout, when set, longer than zero",
                code="config.invalid",
            )
        self.credentials = credentials
        self.policy = policy or PasswordPolicy()
        self.max_failures = max_failures
        self.lockout = lockout
        self.hasher = hasher or password_hasher()
        self._store = store
        self._second_factor = second_factor
        # a hash to verify against when there is none, so both cases take the same time
        try:
            self._decoy = self.hasher.hash(secrets.token_urlsafe(16))
        except HashingError as exc:
            raise ConfigError(f"bad argon2 parameters: {exc}", code="config.invalid") from exc
        self._cost = _cost(self._decoy)

    def set_password(self, account_id: str, password: str, now: datetime) -> None:
        """Check ``password`` against the policy and store its hash."""
        self.policy.check(password)
        self.credentials.set_password(account_id, self.hasher.hash(_normalized(password)), now)

    def check(self, account_id: str, password: str, now: datetime) -> None:
        """Return if ``password`` is the account's; raise ``auth.*`` otherwise."""
        record = self.credentials.get(account_id)
        if record is None or record.password_hash is None:
            self.check_unknown(password)
            raise AuthError("the account has no local password", code="auth.no_password")
        if record.locked(now):
            raise AccountLocked(record.failed_logins, record.locked_until)
        stored = record.password_hash
        if not self._verify(stored, password):
            after = self.credentials.record_failed_login(
                account_id, now, self.max_failures, self.lockout
            )
            if after.locked(now):
                raise AccountLocked(after.failed_logins, after.locked_until)
            raise BadPassword(max(0, self.max_failures - after.failed_logins))
        if record.failed_logins or record.locked_at is not None:
            self.credentials.reset_failed_logins(account_id, now)
        if self.hasher.check_needs_rehash(stored):
            fresh = self.hasher.hash(_normalized(password))
            self.credentials.replace_password_hash(account_id, stored, fresh)

    def check_unknown(self, password: str) -> None:
        """Spend the time of one check, for a login that names no account."""
        self._verify(self._decoy, password)

    def check_unknown_login(self, org_id: str, login: str, password: str, now: datetime) -> None:
        """Answer a login that names no account as :meth:`check` answers a wrong password.

        Raises ``auth.bad_password`` with the attempts left, or ``auth.locked`` from the
        ``max_failures``-th try on (without hashing, as for a locked account), counted per
        organisation and login in the shared store. Without a store, only the time is spent.
        """
        if self._store is None:
            self.check_unknown(password)
            raise BadPassword(self.max_failures - 1)
        key = _unknown_key(org_id, login)
        lock = self._store.get(UNKNOWN_LOGIN_KIND, "lock:" + key, now)
        if lock is not None:
            raise AccountLocked(self.max_failures, _locked_until(lock))
        self.check_unknown(password)
        failures, _ = self._store.increment(
            UNKNOWN_LOGIN_KIND, "failures:" + key, now + _UNKNOWN_KEPT, now
        )
        if failures < self.max_failures:
            raise BadPassword(self.max_failures - failures)
        until = None if self.lockout is None else now + self.lockout
        value = b"" if until is None else until.isoformat().encode()
        expires_at = now + _UNKNOWN_KEPT if until is None else until
        self._store.put(UNKNOWN_LOGIN_KIND, "lock:" + key, value, expires_at, now)
        self._store.delete(UNKNOWN_LOGIN_KIND, "failures:" + key)
        raise AccountLocked(failures, until)

    def unlock(self, account_id: str) -> None:
        """Lift the lock (the second factor's too, when known) and forget earlier
        failures (an administrator's action)."""
        self.credentials.unlock(account_id)
        if self._second_factor is not None:
            self._second_factor.unlock(account_id)

    def _top_up(self) -> None:
        """Spend one verification at the current parameters: a hash made with cheaper
        ones must not answer faster than a login that names no account."""
        with contextlib.suppress(VerifyMismatchError):
            self.hasher.verify(self._decoy, "")

    def _verify(self, stored: str, password: str) -> bool:
        if len(password) > 4 * self.policy.max_length:
            stored, password = self._decoy, ""  # spend the time on a bounded input, and fail
        try:
            return self.hasher.verify(stored, _normalized(password))
        except VerifyMismatchError:
            # a right password on a cheaper hash is rehashed at once, at the full cost
            if stored is not self._decoy and _cost(stored) < self._cost:
                self._top_up()
            return False
        except (InvalidHashError, VerificationError) as exc:
            raise AuthError(
                "the stored password hash is not a valid argon2 hash; set the password again",
                code="auth.bad_hash",
            ) from exc


def _cost(stored: str) -> int:
    """The work of verifying ``stored``: passes over memory (time cost x KiB); 0 when the
    hash cannot be read (verifying it fails at once)."""
    try:
        parameters = argon2.extract_parameters(stored)
    except InvalidHashError:
        return 0
    return parameters.time_cost * parameters.memory_cost


def _unknown_key(org_id: str, login: str) -> str:
    text = org_id.strip() + "\x00" + _normalized(login.strip()).casefold()
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _locked_until(value: bytes) -> datetime | None:
    try:
        return datetime.fromisoformat(value.decode()) if value else None
    except ValueError:
        return None
