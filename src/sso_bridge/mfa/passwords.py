"""Local passwords: argon2id hashes, a strength policy, and lockout after failed logins."""

from __future__ import annotations

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

from sso_bridge.errors import ConfigError
from sso_bridge.mfa.credentials import CredentialStore
from sso_bridge.mfa.errors import AccountLocked, AuthError, BadPassword

__all__ = ["COMMON_PASSWORDS", "LocalPasswords", "PasswordPolicy", "password_hasher"]

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
    lock ends by itself after that time.
    """

    def __init__(
        self,
        credentials: CredentialStore,
        *,
        policy: PasswordPolicy | None = None,
        max_failures: int = 5,
        lockout: timedelta | None = None,
        hasher: argon2.PasswordHasher | None = None,
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
        # a hash to verify against when there is none, so both cases take the same time
        try:
            self._decoy = self.hasher.hash(secrets.token_urlsafe(16))
        except HashingError as exc:
            raise ConfigError(f"bad argon2 parameters: {exc}", code="config.invalid") from exc

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

    def unlock(self, account_id: str) -> None:
        """Lift the lock and forget earlier failures (an administrator's action)."""
        self.credentials.unlock(account_id)

    def _verify(self, stored: str, password: str) -> bool:
        if len(password) > 4 * self.policy.max_length:
            stored, password = self._decoy, ""  # spend the time on a bounded input, and fail
        try:
            return self.hasher.verify(stored, _normalized(password))
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError) as exc:
            raise AuthError(
                "the stored password hash is not a valid argon2 hash; set the password again",
                code="auth.bad_hash",
            ) from exc
