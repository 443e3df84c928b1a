"""Limits that hold across logins and broker instances (docs/mfa.md, "Limits").

Every count lives in the shared :class:`~sso_bridge.ephemeral.EphemeralStore` (kind
``"limit"``), so that all processes over one store see the same numbers:

- wrong second-factor codes per account, across all its challenges; when the budget is
  spent the account's second factor is locked (kind ``"mfa_lock"``);
- one-time codes sent per account and per destination (a phone number, an address);
- password logins, logins started at an IdP and code starts per client IP address.

A window starts with its first hit and ends ``window`` later; the wait a refusal reports
is the time left until then. Subjects are kept as SHA-256 digests, so a key stays short
and a phone number or address is not stored in clear.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import attrs

from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.errors import ConfigError
from sso_bridge.mfa.errors import SecondFactorLocked

__all__ = [
    "COUNTER_KIND",
    "LOCK_KIND",
    "Limit",
    "LimitPolicy",
    "Limiter",
    "SecondFactorBudget",
]

COUNTER_KIND = "limit"
"""The kind of the counters in the ephemeral store."""

LOCK_KIND = "mfa_lock"
"""The kind of second-factor locks in the ephemeral store."""

_FAILURES = "2fa-failures"
_FOREVER = timedelta(days=3650)  # a lock only an administrator lifts still needs an expiry


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ConfigError(f"a limit's {attribute.name} must be 1 or more", code="config.invalid")


def _some_time(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if value <= timedelta(0):
        raise ConfigError(
            f"a limit's {attribute.name} must be longer than zero", code="config.invalid"
        )


@attrs.frozen
class Limit:
    """At most ``count`` in a ``window`` that starts with the first one."""

    count: int = attrs.field(validator=_positive)
    window: timedelta = attrs.field(validator=_some_time)


def _lockout(_: object, __: object, value: timedelta | None) -> None:
    if value is not None and value <= timedelta(0):
        raise ConfigError(
            "second_factor_lockout must be longer than zero, or None", code="config.invalid"
        )


@attrs.frozen
class LimitPolicy:
    """The limits and their defaults (docs/security.md, "Limits").

    ``second_factor_lockout`` None: a locked second factor stays locked until an
    administrator unlocks the account (``sso-bridge accounts unlock``). A limit set to
    None is off.
    """

    second_factor_failures: Limit = Limit(10, timedelta(hours=1))
    second_factor_lockout: timedelta | None = attrs.field(
        default=timedelta(minutes=30), validator=_lockout
    )
    codes_per_account: Limit | None = Limit(5, timedelta(minutes=15))
    codes_per_destination: Limit | None = Limit(10, timedelta(hours=1))
    logins_per_ip: Limit | None = Limit(300, timedelta(minutes=5))
    idp_starts_per_ip: Limit | None = Limit(600, timedelta(minutes=5))
    code_starts_per_ip: Limit | None = Limit(100, timedelta(minutes=5))


def _digest(*parts: str) -> str:
    joined = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.sha256(joined).hexdigest()


class Limiter:
    """Counts hits of one kind of limit in the shared store."""

    def __init__(self, store: EphemeralStore) -> None:
        self._store = store

    def hit(self, name: str, subject: str, limit: Limit | None, now: datetime) -> timedelta | None:
        """Count one hit of ``subject`` against ``limit`` (None: no limit, nothing counted).

        None while within the limit; past it, the wait until the window ends.
        """
        if limit is None:
            return None
        count, until = self._increment(name, subject, limit, now)
        if count <= limit.count:
            return None
        return max(until - now, timedelta(seconds=1))

    def count(self, name: str, subject: str, limit: Limit, now: datetime) -> int:
        """Count one hit of ``subject`` in ``limit``'s window; the hits so far."""
        return self._increment(name, subject, limit, now)[0]

    def _increment(
        self, name: str, subject: str, limit: Limit, now: datetime
    ) -> tuple[int, datetime]:
        key = f"{name}:{_digest(subject)}"
        return self._store.increment(COUNTER_KIND, key, now + limit.window, now)

    def forget(self, name: str, subject: str) -> None:
        """Drop the count of ``subject`` (an administrator's unlock)."""
        self._store.delete(COUNTER_KIND, f"{name}:{_digest(subject)}")


class SecondFactorBudget:
    """Wrong second-factor codes per account, across its challenges; spent, it locks.

    The lock holds for ``lockout`` (None: until :meth:`unlock`), in the shared store.
    """

    def __init__(self, store: EphemeralStore, policy: LimitPolicy | None = None) -> None:
        self._store = store
        self._limiter = Limiter(store)
        self.policy = policy or LimitPolicy()

    def check(self, account_id: str, now: datetime) -> None:
        """Raise ``mfa.second_factor_locked`` while the account's second factor is locked."""
        raw = self._store.get(LOCK_KIND, account_id, now)
        if raw is not None:
            raise SecondFactorLocked(_wait(raw, now))

    def failed(self, account_id: str, now: datetime) -> SecondFactorLocked | None:
        """Count one wrong code; the error of the lock when this one spent the budget."""
        budget = self.policy.second_factor_failures
        if self._limiter.count(_FAILURES, account_id, budget, now) >= budget.count:
            # the budget is spent: lock, and start the count afresh for after the lock
            lockout = self.policy.second_factor_lockout
            until = now + (_FOREVER if lockout is None else lockout)
            value = b"" if lockout is None else until.isoformat().encode()
            self._store.put(LOCK_KIND, account_id, value, until, now)
            self._limiter.forget(_FAILURES, account_id)
            return SecondFactorLocked(lockout)
        return None

    def unlock(self, account_id: str) -> None:
        """Lift the lock and forget the wrong codes counted (an administrator's action)."""
        self._store.delete(LOCK_KIND, account_id)
        self._limiter.forget(_FAILURES, account_id)


def _wait(raw: bytes, now: datetime) -> timedelta | None:
    if not raw:
        return None
    try:
        until = datetime.fromisoformat(raw.decode())
    except ValueError:
        return None
    return max(until - now, timedelta(seconds=1))
