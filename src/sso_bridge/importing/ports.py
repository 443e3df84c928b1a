"""The port the importer loads accounts through, and the row form it writes.

:class:`sso_bridge.store.sql.SqlStore` implements :class:`ImportTarget`; its bulk-import
transaction is a :class:`BulkImport`.

The import transaction's organisation methods were once spelt ``add_organizations`` and
``has_organization``; the importer calls them through :func:`add_organisations` and
:func:`has_organisation`, which fall back to the old names (with a
:class:`DeprecationWarning`) for a transaction of the host that has only those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, cast

from sso_bridge.matching.keys import BlindIndex, account_keys, date_number
from sso_bridge.matching.ports import renamed_method
from sso_bridge.model import LocalAccount, Organisation

__all__ = [
    "ACCOUNT_ROW_COLUMNS",
    "AccountRow",
    "BulkImport",
    "ImportTarget",
    "ProgressCallback",
    "account_row",
    "add_organisations",
    "has_organisation",
]

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

    def add_organisations(self, organisations: Iterable[Organisation]) -> None:
        """Insert organisations, or update their names."""
        ...

    def has_organisation(self, org_id: str) -> bool:
        """Whether the organisation exists (stored, or added in this import)."""
        ...

    def add_rows(self, rows: Sequence[AccountRow]) -> None:
        """Insert accounts, or update them by ``account_id``."""
        ...


class ImportTarget(Protocol):
    """A directory of local accounts that accounts can be loaded into."""

    @property
    def blind_index(self) -> BlindIndex: ...

    def bulk_import(self, expected_rows: int = 0) -> AbstractContextManager[BulkImport]:
        """Open an import transaction, committed when the ``with`` block ends normally.

        ``expected_rows`` lets the store prepare for a large load.
        """
        ...

    def import_accounts(
        self, accounts: Sequence[LocalAccount], organisations: Iterable[Organisation] = ()
    ) -> int:
        """Insert or update (by ``account_id``) all accounts in one transaction."""
        ...


def add_organisations(writer: BulkImport, organisations: Iterable[Organisation]) -> None:
    """``writer.add_organisations(...)``, for an import transaction with the old method name
    too."""
    renamed_method(writer, "add_organisations", "add_organizations")(organisations)


def has_organisation(writer: BulkImport, org_id: str) -> bool:
    """``writer.has_organisation(org_id)``, for an import transaction with the old method
    name too."""
    return cast("bool", renamed_method(writer, "has_organisation", "has_organization")(org_id))
