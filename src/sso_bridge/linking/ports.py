"""The port the linker keeps links in (docs/storage.md).

:class:`sso_bridge.store.sql.SqlStore` implements it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sso_bridge.model import AuditEvent, Link

__all__ = ["HiddenAccounts", "LinkStore"]


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


@runtime_checkable
class HiddenAccounts(Protocol):
    """The accounts a person asked not to be offered at login ("не предлагать эту учётную
    запись"), per (issuer, subject, account); each change is one transaction with its
    audit event. A link store without these methods hides nothing."""

    def hidden_accounts(self, issuer: str, subject: str) -> frozenset[str]:
        """The accounts hidden from issuer and subject."""
        ...

    def hide_account(self, issuer: str, subject: str, account_id: str, event: AuditEvent) -> bool:
        """Hide the account (True) or find it hidden already (False, nothing written)."""
        ...

    def show_account(self, issuer: str, subject: str, account_id: str, event: AuditEvent) -> bool:
        """Offer the account again (True) or find it not hidden (False, nothing written)."""
        ...
