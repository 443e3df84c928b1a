"""A person's rows in the SQL store: the hidden accounts as rows, and the erasure of
links, hidden accounts and the directory entry in one transaction."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from sso_bridge.store.guard_methods import Guarded
from sso_bridge.store.sql_engine import utc
from sso_bridge.store.sql_schema import accounts, hidden_accounts, links
from sso_bridge.store.sql_store import SqlStore

__all__ = ["PersonRows"]

_h = hidden_accounts.c


class PersonRows(Guarded):
    """Reads and erasures over the database of ``store``; database faults are
    ``store.unavailable`` (:class:`~sso_bridge.store.guard_methods.Guarded`)."""

    def __init__(self, store: SqlStore) -> None:
        self.engine = store.engine
        self._writer = store.engine.execution_options(write=True)

    def hidden(
        self,
        *,
        account_id: str | None = None,
        issuer: str | None = None,
        subject: str | None = None,
    ) -> list[dict[str, Any]]:
        """The hidden-account rows of an account, or of a federated identity."""
        query = sa.select(hidden_accounts).order_by(_h.issuer, _h.subject, _h.account_id)
        if account_id is not None:
            query = query.where(_h.account_id == account_id)
        else:
            query = query.where(_h.issuer == issuer, _h.subject == subject)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(10_000)).mappings().all()
        return [
            {
                "issuer": r["issuer"],
                "subject": r["subject"],
                "account_id": r["account_id"],
                "hidden_at": utc(r["hidden_at"]).isoformat(),
            }
            for r in rows
        ]

    def erase_account(self, account_id: str) -> dict[str, int]:
        """Delete the account's hidden-account rows, links and directory entry, in one
        transaction; how many of each went."""
        with self._writer.begin() as conn:
            hidden = conn.execute(sa.delete(hidden_accounts).where(_h.account_id == account_id))
            linked = conn.execute(sa.delete(links).where(links.c.account_id == account_id))
            entry = conn.execute(sa.delete(accounts).where(accounts.c.account_id == account_id))
            return {
                "hidden_accounts": hidden.rowcount,
                "links": linked.rowcount,
                "accounts": entry.rowcount,
            }

    def erase_subject(self, issuer: str, subject: str) -> dict[str, int]:
        """Delete the federated identity's links and hidden-account rows, in one
        transaction (the accounts stay); how many of each went."""
        with self._writer.begin() as conn:
            hidden = conn.execute(
                sa.delete(hidden_accounts).where(_h.issuer == issuer, _h.subject == subject)
            )
            linked = conn.execute(
                sa.delete(links).where(links.c.issuer == issuer, links.c.subject == subject)
            )
            return {"hidden_accounts": hidden.rowcount, "links": linked.rowcount, "accounts": 0}
