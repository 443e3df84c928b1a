"""The port the matcher reads the local accounts through (docs/storage.md).

:class:`sso_bridge.store.sql.SqlStore` implements it; the linker, the broker and the
command line read the directory through it too.
"""

from __future__ import annotations

from typing import Protocol

from sso_bridge.matching.decide import AccountEntry
from sso_bridge.matching.keys import BlindIndex, MatchKeys
from sso_bridge.model import LocalAccount, Organization

__all__ = ["AccountDirectory"]


class AccountDirectory(Protocol):
    """The school system's local accounts, searchable by match keys.

    Loading accounts is the importer's port,
    :class:`sso_bridge.importing.ports.ImportTarget`.
    """

    @property
    def blind_index(self) -> BlindIndex: ...

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
