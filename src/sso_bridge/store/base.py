"""Storage protocols, one per concern (docs/storage.md).

Implementations: :class:`sso_bridge.store.sql.SqlStore` (SQLite, the embedded default,
and PostgreSQL) implements all three.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from sso_bridge.matching.decide import AccountEntry
from sso_bridge.matching.keys import BlindIndex, MatchKeys, account_keys, date_number
from sso_bridge.model import AuditEvent, Link, LocalAccount, Organization

ProgressCallback = Callable[[int], None]

AccountRow = tuple[
    str,  # account_id
    str,  # org_id
    str | None,  # login
    str,  # roles, joined with ";"
    str,  # last_name
    str,  # first_name
    str | None,  # middle_name
    int | None,  # birth_date as YYYYMMDD
    int | None,  # name_key (see sso_bridge.matching.keys.name_key)
    bytes | None,  # snils_hash
    bytes | None,  # passport_hash
    str,  # status
]
"""An account in the form stores write it: names as given, keys computed and hashed."""

ACCOUNT_ROW_COLUMNS = (
    "account_id",
    "org_id",
    "login",
    "roles",
    "last_name",
    "first_name",
    "middle_name",
    "birth_date",
    "name_key",
    "snils_hash",
    "passport_hash",
    "status",
)


def account_row(account: LocalAccount, index: BlindIndex) -> AccountRow:
    """The storage form of ``account``; its SNILS and passport must be valid."""
    keys = account_keys(account, index)
    return (
        account.account_id,
        account.org_id,
        account.login,
        ";".join(account.roles),
        account.last_name,
        account.first_name,
        account.middle_name,
        None if account.birth_date is None else date_number(account.birth_date),
        keys.name_key,
        keys.snils,
        keys.passport,
        account.status.value,
    )


class BulkImport(Protocol):
    """An open import transaction: everything added is committed together or not at all."""

    def add_organizations(self, organizations: Iterable[Organization]) -> None:
        """Insert organisations, or update their names."""
        ...

    def has_organization(self, org_id: str) -> bool:
        """Whether the organisation exists (stored, or added in this import)."""
        ...

    def add_rows(self, rows: Sequence[AccountRow]) -> None:
        """Insert accounts, or update them by ``account_id``."""
        ...


class AccountDirectory(Protocol):
    """The school system's local accounts, searchable by match keys."""

    @property
    def blind_index(self) -> BlindIndex: ...

    def bulk_import(self, expected_rows: int = 0) -> AbstractContextManager[BulkImport]:
        """Open an import transaction, committed when the ``with`` block ends normally.

        ``expected_rows`` lets the store prepare for a large load.
        """
        ...

    def import_accounts(
        self, accounts: Sequence[LocalAccount], organizations: Iterable[Organization] = ()
    ) -> int:
        """Insert or update (by ``account_id``) all accounts in one transaction."""
        ...

    def get_account(self, account_id: str) -> LocalAccount | None: ...

    def get_organization(self, org_id: str) -> Organization | None: ...

    def list_organizations(self) -> list[Organization]:
        """Every organisation, by name (for a login form's selector)."""
        ...

    def linked_accounts(self, issuer: str, subject: str) -> list[LocalAccount]:
        """The accounts linked to (issuer, subject), by account id, blocked ones included."""
        ...

    def find_by_login(self, org_id: str, login: str) -> LocalAccount | None:
        """The account of ``org_id`` with exactly this login (case and all).

        ``None`` when there is none or when several accounts of the organisation share it.
        """
        ...

    def list_accounts(
        self, *, org_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[LocalAccount]: ...

    def count_accounts(self) -> int: ...

    def get_entry(self, account_id: str, issuer: str | None = None) -> AccountEntry | None:
        """One account with its organisation, match keys and its link to ``issuer``.

        With no ``issuer`` the entry's ``linked_subject`` is ``None``.
        """
        ...

    def find_accounts(self, keys: MatchKeys, issuer: str) -> list[AccountEntry]:
        """Accounts sharing (last, first, birth date), SNILS or passport with ``keys``.

        Goes through indexes only. Each result carries the subject of ``issuer`` that the
        account already links to, if any.
        """
        ...


class LinkStore(Protocol):
    """Links between federated identities and local accounts."""

    def create_link(self, link: Link, event: AuditEvent) -> tuple[Link, bool]:
        """Store ``link`` and ``event`` in one transaction.

        Returns ``(link, True)`` when created, ``(existing, False)`` when the same
        (issuer, subject, account) link already exists (nothing is written then). Raises
        ``LinkConflict`` when the account links to another subject of the same issuer and
        ``AccountNotFound`` when there is no such account.
        """
        ...

    def remove_link(self, issuer: str, subject: str, account_id: str, event: AuditEvent) -> Link:
        """Delete the link and write ``event`` in one transaction; ``LinkNotFound`` if absent."""
        ...

    def links_for_subject(self, issuer: str, subject: str) -> list[Link]: ...

    def links_for_account(self, account_id: str) -> list[Link]: ...

    def list_links(
        self,
        *,
        issuer: str | None = None,
        subject: str | None = None,
        account_id: str | None = None,
        limit: int = 100,
    ) -> list[Link]: ...


class AuditLog(Protocol):
    """Append-only, hash-chained trail of logins, links, sessions and refusals.

    See docs/audit.md and :mod:`sso_bridge.audit`. Events are numbered in the order they
    were recorded; each carries the hash of the one before it.
    """

    def record(self, event: AuditEvent) -> AuditEvent:
        """Append ``event`` and return it as stored, with ``event_id`` and ``chain_hash``.

        What is stored is :func:`sso_bridge.audit.prepare` of ``event``: ``detail``
        redacted, text cut to its column, the time in UTC. A time without a timezone is
        refused (``audit.invalid_event``).
        """
        ...

    def record_many(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Append several events at once (one transaction), in order; as :meth:`record`."""
        ...

    def tail(
        self,
        limit: int = 20,
        *,
        account_id: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEvent]:
        """The newest ``limit`` events, oldest first.

        Only those of ``account_id`` and those at or after ``since`` (timezone-aware;
        ``audit.bad_since`` otherwise), when given.
        """
        ...

    def events(self, after_id: int = 0, limit: int = 1000) -> list[AuditEvent]:
        """Up to ``limit`` events with ``event_id`` above ``after_id``, ascending.

        For reading the whole trail in batches, as verification does.
        """
        ...
