"""Local credentials of an account: password hash, lockout, TOTP secret, contacts and
the hashes of its recovery codes (:mod:`sso_bridge.mfa.recovery`).

:class:`CredentialStore` is the port; :class:`InMemoryCredentialStore` serves one process
and tests, :class:`sso_bridge.store.sql_credentials.SqlCredentialStore` a database. Every
update that guards against guessing (the failure counter, the last used TOTP step) is
atomic in the store, so that it holds across several broker processes; so is spending
a recovery code.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import attrs

from sso_bridge.mfa.otp import check_algorithm, check_digits

__all__ = ["CredentialStore", "Credentials", "InMemoryCredentialStore"]


@attrs.frozen
class Credentials:
    """What is kept for one local account; secrets and contacts stay out of ``repr``.

    ``locked_at`` is set by the failure that locks the account; ``locked_until`` is None
    for a lock that only :meth:`CredentialStore.unlock` lifts.
    """

    account_id: str
    password_hash: str | None = attrs.field(default=None, repr=False)
    password_set_at: datetime | None = None
    failed_logins: int = 0
    locked_at: datetime | None = None
    locked_until: datetime | None = None
    totp_secret: bytes | None = attrs.field(default=None, repr=False)
    totp_algorithm: str = "sha1"
    totp_digits: int = 6
    totp_last_step: int | None = None
    phone: str | None = attrs.field(default=None, repr=False)
    email: str | None = attrs.field(default=None, repr=False)

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_secret is not None

    def locked(self, now: datetime) -> bool:
        """Whether the account is locked at ``now`` (a timed lock ends by itself)."""
        if self.locked_at is None:
            return False
        return self.locked_until is None or now < self.locked_until


class CredentialStore(Protocol):
    """Credentials by account id. Writers create the record when it is missing."""

    def get(self, account_id: str) -> Credentials | None:
        """The account's credentials, or None when nothing was ever stored for it."""
        ...

    def set_password(self, account_id: str, password_hash: str, now: datetime) -> None:
        """Store a new password hash (the failure counter and lock are left as they are)."""
        ...

    def replace_password_hash(self, account_id: str, old_hash: str, new_hash: str) -> bool:
        """Swap the hash only if it is still ``old_hash`` (a rehash); True when swapped."""
        ...

    def record_failed_login(
        self, account_id: str, now: datetime, max_failures: int, lockout: timedelta | None
    ) -> Credentials:
        """Count a failure and lock at ``max_failures``, atomically; the record after it.

        A timed lock that has ended is cleared first, so counting starts again at one.
        """
        ...

    def reset_failed_logins(self, account_id: str, now: datetime) -> None:
        """Zero the counter after a good login; a lock still in force at ``now`` stays."""
        ...

    def unlock(self, account_id: str) -> None:
        """Lift any lock and zero the counter (an administrator's action)."""
        ...

    def set_totp(
        self,
        account_id: str,
        secret: bytes,
        *,
        algorithm: str = "sha1",
        digits: int = 6,
        last_step: int | None = None,
    ) -> None:
        """Enrol a TOTP secret; ``last_step`` is the step already used to confirm it."""
        ...

    def remove_totp(self, account_id: str) -> None:
        """Forget the TOTP secret, its last used step and the recovery codes."""
        ...

    def use_totp_step(self, account_id: str, step: int) -> bool:
        """Mark ``step`` used; True only if a secret is enrolled and ``step`` is later than
        the last used one. Atomic: of two callers with the same step, one wins."""
        ...

    def set_contacts(
        self, account_id: str, phone: str | None = None, email: str | None = None
    ) -> None:
        """Replace both contacts (None removes one)."""
        ...

    def set_recovery_codes(self, account_id: str, hashes: Sequence[bytes]) -> None:
        """Replace the account's recovery code hashes (an empty sequence removes them)."""
        ...

    def recovery_code_hashes(self, account_id: str) -> tuple[bytes, ...]:
        """The hashes of the account's unused recovery codes (empty: none)."""
        ...

    def use_recovery_code(self, account_id: str, stored_hash: bytes) -> int | None:
        """Remove the stored hash ``stored_hash``; the number of codes left, or None when
        it was not there. Atomic: of two callers with the same hash, one wins."""
        ...

    def erase(self, account_id: str) -> bool:
        """Forget everything kept for the account (an erasure); True if there was anything."""
        ...


class InMemoryCredentialStore:
    """A thread-safe :class:`CredentialStore` in this process's memory; times kept in UTC."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, Credentials] = {}
        self._recovery: dict[str, tuple[bytes, ...]] = {}

    def _current(self, account_id: str) -> Credentials:
        return self._records.get(account_id) or Credentials(account_id)

    def _update(self, account_id: str, **changes: object) -> Credentials:
        record = attrs.evolve(self._current(account_id), **changes)  # type: ignore[arg-type]
        self._records[account_id] = record
        return record

    def get(self, account_id: str) -> Credentials | None:
        with self._lock:
            return self._records.get(account_id)

    def set_password(self, account_id: str, password_hash: str, now: datetime) -> None:
        with self._lock:
            self._update(
                account_id, password_hash=password_hash, password_set_at=now.astimezone(UTC)
            )

    def replace_password_hash(self, account_id: str, old_hash: str, new_hash: str) -> bool:
        with self._lock:
            record = self._records.get(account_id)
            if record is None or record.password_hash != old_hash:
                return False
            self._update(account_id, password_hash=new_hash)
            return True

    def record_failed_login(
        self, account_id: str, now: datetime, max_failures: int, lockout: timedelta | None
    ) -> Credentials:
        now = now.astimezone(UTC)
        with self._lock:
            record = self._current(account_id)
            if record.locked_until is not None and record.locked_until <= now:
                record = attrs.evolve(record, failed_logins=0, locked_at=None, locked_until=None)
            failures = record.failed_logins + 1
            record = attrs.evolve(record, failed_logins=failures)
            if record.locked_at is None and failures >= max_failures:
                until = None if lockout is None else now + lockout
                record = attrs.evolve(record, locked_at=now, locked_until=until)
            self._records[account_id] = record
            return record

    def reset_failed_logins(self, account_id: str, now: datetime) -> None:
        with self._lock:
            record = self._records.get(account_id)
            if record is not None and not record.locked(now):
                self._update(account_id, failed_logins=0, locked_at=None, locked_until=None)

    def unlock(self, account_id: str) -> None:
        with self._lock:
            if account_id in self._records:
                self._update(account_id, failed_logins=0, locked_at=None, locked_until=None)

    def set_totp(
        self,
        account_id: str,
        secret: bytes,
        *,
        algorithm: str = "sha1",
        digits: int = 6,
        last_step: int | None = None,
    ) -> None:
        algorithm = check_algorithm(algorithm)
        check_digits(digits)
        with self._lock:
            self._update(
                account_id,
                totp_secret=bytes(secret),
                totp_algorithm=algorithm,
                totp_digits=digits,
                totp_last_step=last_step,
            )

    def remove_totp(self, account_id: str) -> None:
        with self._lock:
            self._recovery.pop(account_id, None)
            if account_id in self._records:
                self._update(account_id, totp_secret=None, totp_last_step=None)

    def use_totp_step(self, account_id: str, step: int) -> bool:
        with self._lock:
            record = self._records.get(account_id)
            if record is None or record.totp_secret is None:
                return False
            if record.totp_last_step is not None and step <= record.totp_last_step:
                return False
            self._update(account_id, totp_last_step=step)
            return True

    def set_contacts(
        self, account_id: str, phone: str | None = None, email: str | None = None
    ) -> None:
        with self._lock:
            self._update(account_id, phone=phone, email=email)

    def set_recovery_codes(self, account_id: str, hashes: Sequence[bytes]) -> None:
        with self._lock:
            if hashes:
                self._recovery[account_id] = tuple(bytes(h) for h in hashes)
            else:
                self._recovery.pop(account_id, None)

    def recovery_code_hashes(self, account_id: str) -> tuple[bytes, ...]:
        with self._lock:
            return self._recovery.get(account_id, ())

    def erase(self, account_id: str) -> bool:
        """Forget everything kept for the account (an erasure); True if there was anything."""
        with self._lock:
            had_codes = self._recovery.pop(account_id, None) is not None
            return self._records.pop(account_id, None) is not None or had_codes

    def use_recovery_code(self, account_id: str, stored_hash: bytes) -> int | None:
        with self._lock:
            hashes = self._recovery.get(account_id, ())
            if stored_hash not in hashes:
                return None
            left = tuple(h for h in hashes if h != stored_hash)
            self._recovery[account_id] = left
            return len(left)
