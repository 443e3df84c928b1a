"""A person's entries in the brokers' short-lived store, found and dropped for an erasure.

Sessions are found by their owner (the account) or through the IdP index (the subject);
kept requests by the account's tag they carry
(:func:`~sso_bridge.sessions.kept.discard_account`); the second-factor lock and the
per-account counters by their keys. Login steps (OIDC state and linking proofs among
them), code challenges and logout steps are owned by a browser, not a person, and live
minutes: they are found by reading every live entry of those kinds
(:meth:`~sso_bridge.ephemeral.EphemeralStore.scan`, page by page) and dropping the ones
whose JSON names the account id or the subject. An erasure is rare, and these kinds hold
only the logins in progress, so the scan costs less than an index every login would
have to write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from sso_bridge.broker.logout import LOGOUT_STEP_KIND
from sso_bridge.broker.steps import STEP_KIND
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.mfa.challenges import KIND as CHALLENGE_KIND
from sso_bridge.mfa.limits import LOCK_KIND, Limiter, SecondFactorBudget

__all__ = ["SCANNED_KINDS", "drop_naming", "forget_limits", "names"]

SCANNED_KINDS: Final = (STEP_KIND, CHALLENGE_KIND, LOGOUT_STEP_KIND)
"""The kinds read entry by entry for an erasure."""

_SENT_PER_ACCOUNT: Final = "sent-account"  # the codes-sent limit of sso_bridge.mfa.challenges
_PAGE: Final = 500


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)


def names(value: bytes, needle: str) -> bool:
    """Whether the stored ``value`` holds ``needle`` as one of its JSON strings (any text
    that is not JSON: as a JSON-quoted string anywhere in it)."""
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return json.dumps(needle).encode() in value
    return any(text == needle for text in _strings(data))


def drop_naming(store: EphemeralStore, needle: str, now: datetime) -> int:
    """Delete every live entry of :data:`SCANNED_KINDS` that names ``needle``; how many.

    Entries expired by ``now`` but not yet dropped still hold what they held: a store that
    keeps them (the SQL and in-process stores; Redis drops its own) purges them first."""
    purge = getattr(store, "purge", None)
    if callable(purge):
        purge(now)
    dropped = 0
    for kind in SCANNED_KINDS:
        cursor: str | None = None
        while True:
            found, cursor = store.scan(kind, now, cursor, _PAGE)
            for key, value in found:
                if names(value, needle) and store.delete(kind, key):
                    dropped += 1
            if cursor is None:
                break
    return dropped


def forget_limits(store: EphemeralStore, account_id: str, now: datetime) -> int:
    """Lift the account's second-factor lock and forget its per-account counters (wrong
    codes, codes sent); 1 if a lock was in force, else 0."""
    locked = store.get(LOCK_KIND, account_id, now) is not None
    SecondFactorBudget(store).unlock(account_id)
    Limiter(store).forget(_SENT_PER_ACCOUNT, account_id)
    return int(locked)
