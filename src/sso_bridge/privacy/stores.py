"""Where a person's data is kept, as export and erasure reach it. A store left out, or
one without the capability asked of it, is reported as not reached instead of failing."""

from __future__ import annotations

import secrets
from typing import Any, Protocol, runtime_checkable

import attrs

from sso_bridge.clock import Clock, SystemClock
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.mfa.credentials import CredentialStore
from sso_bridge.sessions.manager import SessionManager, SessionPolicy
from sso_bridge.store.sql_store import SqlStore

__all__ = [
    "ErasableRecords",
    "PersonStores",
]


@runtime_checkable
class ErasableRecords(Protocol):
    """A store of rows by account or federated identity (link requests, dead letters)."""

    def erase_account(self, account_id: str) -> int: ...

    def erase_subject(self, issuer: str, subject: str) -> int: ...


def _sessions_default(stores: PersonStores) -> SessionManager | None:
    if stores.ephemeral is None:
        return None
    # only erase and list: the CSRF key signs nothing here
    return SessionManager(stores.ephemeral, SessionPolicy(), secrets.token_bytes(32))


@attrs.define
class PersonStores:
    """The stores one export or erasure reaches.

    ``store``: accounts, links, hidden accounts and the audit trail. ``credentials``:
    passwords, authenticator secrets, contacts, recovery codes. ``ephemeral``: the
    brokers' short-lived store (sessions, kept requests, login steps, challenges, limits);
    ``sessions`` is made over it unless given (give the broker's own, for its policy).
    ``link_requests`` and ``events``: the queued link requests and the event outbox's
    dead letters, each with ``erase_account`` and ``erase_subject``. A store left out is
    named in the report as not reached.
    """

    store: SqlStore
    credentials: CredentialStore | None = None
    ephemeral: EphemeralStore | None = None
    sessions: SessionManager | None = attrs.field(
        default=attrs.Factory(_sessions_default, takes_self=True)
    )
    link_requests: Any = None
    events: Any = None
    clock: Clock = attrs.field(factory=SystemClock)
