"""The port the matcher reads the local accounts through (docs/storage.md).

:class:`sso_bridge.store.sql.SqlStore` implements it; the linker, the broker and the
command line read the directory through it too.

The port's organisation methods were once spelt ``get_organization`` and
``list_organizations``. A directory of the host that still has only those names keeps
working for one release: every caller goes through :func:`get_organisation` and
:func:`list_organisations`, which fall back to the old names with a
:class:`DeprecationWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any, Protocol, cast

from sso_bridge.matching.decide import AccountEntry
from sso_bridge.matching.keys import BlindIndex, MatchKeys
from sso_bridge.model import LocalAccount, Organisation

__all__ = ["AccountDirectory", "get_organisation", "list_organisations"]


class AccountDirectory(Protocol):
    """The school system's local accounts, searchable by match keys.

    Loading accounts is the importer's port,
    :class:`sso_bridge.importing.ports.ImportTarget`.
    """

    @property
    def blind_index(self) -> BlindIndex: ...

    def get_account(self, account_id: str) -> LocalAccount | None: ...

    def get_organisation(self, org_id: str) -> Organisation | None: ...

    def list_organisations(self) -> list[Organisation]:
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


def renamed_method(port: object, name: str, old_name: str) -> Any:
    """``port.name``, or ``port.old_name`` (with a :class:`DeprecationWarning`) when the
    port was written against the old spelling."""
    method = getattr(port, name, None)
    if method is not None:
        return method
    old = getattr(port, old_name, None)
    if old is None:
        raise AttributeError(f"{type(port).__name__} has no method {name}")
    warnings.warn(
        f"{type(port).__name__}.{old_name} is deprecated: name the method {name}",
        DeprecationWarning,
        stacklevel=3,
    )
    return old


def get_organisation(directory: AccountDirectory, org_id: str) -> Organisation | None:
    """``directory.get_organisation(org_id)``, for a directory with the old method name too."""
    found = renamed_method(directory, "get_organisation", "get_organization")(org_id)
    return cast("Organisation | None", found)


def list_organisations(directory: AccountDirectory) -> list[Organisation]:
    """``directory.list_organisations()``, for a directory with the old method name too."""
    found = renamed_method(directory, "list_organisations", "list_organizations")()
    return cast("list[Organisation]", found)
