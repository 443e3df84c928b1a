"""The links of the SQL store: each change one transaction with its audit event, and
one link per (account, issuer) kept by the primary key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from sso_bridge.errors import AccountNotFound, LinkConflict, LinkNotFound
from sso_bridge.model import AuditEvent, Link, LinkMethod
from sso_bridge.store.sql_audit import SqlAuditLog
from sso_bridge.store.sql_engine import utc
from sso_bridge.store.sql_match import EntryReader
from sso_bridge.store.sql_schema import accounts, hidden_accounts, links

__all__ = ["SqlLinks"]

_LINKS_OF_SUBJECT = {
    marker: "SELECT issuer, subject, account_id, method, created_at, created_by, ip FROM links "  # noqa: S608
    f"WHERE issuer = {marker} AND subject = {marker} ORDER BY account_id"
    for marker in ("?", "%s")
}
_METHODS = {m.value: m for m in LinkMethod}


def link_from_tuple(row: Sequence[Any]) -> Link:
    """A link from a row in the column order of the link lookup's statement."""
    created = row[4]
    if isinstance(created, str):  # SQLite keeps times as text
        created = datetime.fromisoformat(created)
    return Link(
        issuer=row[0],
        subject=row[1],
        account_id=row[2],
        method=_METHODS.get(row[3]) or LinkMethod(row[3]),
        created_at=utc(created),
        created_by=row[5],
        ip=row[6],
    )


_HIDDEN_OF_SUBJECT = sa.select(hidden_accounts.c.account_id).where(
    hidden_accounts.c.issuer == sa.bindparam("issuer"),
    hidden_accounts.c.subject == sa.bindparam("subject"),
)


class SqlLinks(SqlAuditLog):
    """The :class:`~sso_bridge.linking.ports.LinkStore` of
    :class:`~sso_bridge.store.sql.SqlStore`; each change is audited in its transaction."""

    @staticmethod
    def _link(row: RowMapping) -> Link:
        return Link(
            issuer=row["issuer"],
            subject=row["subject"],
            account_id=row["account_id"],
            method=LinkMethod(row["method"]),
            created_at=utc(row["created_at"]),
            created_by=row["created_by"],
            ip=row["ip"],
        )

    def create_link(self, link: Link, event: AuditEvent) -> tuple[Link, bool]:
        with self._write() as conn:
            exists = conn.execute(
                sa.select(accounts.c.account_id).where(accounts.c.account_id == link.account_id)
            ).first()
            if exists is None:
                raise AccountNotFound(f"no local account {link.account_id!r}")
            stmt = (
                self._insert(links)
                .values(
                    issuer=link.issuer,
                    subject=link.subject,
                    account_id=link.account_id,
                    method=link.method.value,
                    created_at=link.created_at,
                    created_by=link.created_by,
                    ip=link.ip,
                )
                .on_conflict_do_nothing(index_elements=["account_id", "issuer"])
                .returning(links.c.account_id)
            )
            if conn.execute(stmt).first() is not None:
                self._record(conn, event)
                return link, True
            row = (
                conn.execute(
                    sa.select(links).where(
                        links.c.account_id == link.account_id, links.c.issuer == link.issuer
                    )
                )
                .mappings()
                .one()
            )
            existing = self._link(row)
        if existing.subject != link.subject:
            raise LinkConflict(
                f"account {link.account_id!r} is already linked to another subject of "
                f"{link.issuer!r}"
            )
        return existing, False

    def remove_link(self, issuer: str, subject: str, account_id: str, event: AuditEvent) -> Link:
        where = (
            links.c.issuer == issuer,
            links.c.subject == subject,
            links.c.account_id == account_id,
        )
        with self._write() as conn:
            row = conn.execute(sa.select(links).where(*where)).mappings().first()
            if row is None:
                raise LinkNotFound(f"no link of account {account_id!r} to that subject")
            conn.execute(sa.delete(links).where(*where))
            self._record(conn, event)
            return self._link(row)

    def list_links(
        self,
        *,
        issuer: str | None = None,
        subject: str | None = None,
        account_id: str | None = None,
        limit: int = 100,
    ) -> list[Link]:
        query = sa.select(links).order_by(links.c.issuer, links.c.subject, links.c.account_id)
        if issuer is not None:
            query = query.where(links.c.issuer == issuer)
        if subject is not None:
            query = query.where(links.c.subject == subject)
        if account_id is not None:
            query = query.where(links.c.account_id == account_id)
        with self.engine.connect() as conn:
            return [self._link(r) for r in conn.execute(query.limit(limit)).mappings()]

    def links_for_subject(self, issuer: str, subject: str) -> list[Link]:
        # every login asks this: one prepared statement on a pooled driver connection
        driver = self._driver
        sql = _LINKS_OF_SUBJECT[driver.marker]
        return [link_from_tuple(r) for r in driver.read(sql, (issuer, subject))]

    def links_for_account(self, account_id: str) -> list[Link]:
        return self.list_links(account_id=account_id, limit=10_000)

    # -- accounts a person asked not to be offered (linking.ports.HiddenAccounts) ------------

    def hidden_accounts(self, issuer: str, subject: str) -> frozenset[str]:
        reader = getattr(self, "_reader", None)  # the directory's fast reads, when it has them
        if isinstance(reader, EntryReader):
            return reader.hidden(issuer, subject)
        with self.engine.connect() as conn:
            found = conn.execute(_HIDDEN_OF_SUBJECT, {"issuer": issuer, "subject": subject})
            return frozenset(found.scalars())

    def hide_account(self, issuer: str, subject: str, account_id: str, event: AuditEvent) -> bool:
        with self._write() as conn:
            exists = conn.execute(
                sa.select(accounts.c.account_id).where(accounts.c.account_id == account_id)
            ).first()
            if exists is None:
                raise AccountNotFound(f"no local account {account_id!r}")
            stmt = (
                self._insert(hidden_accounts)
                .values(issuer=issuer, subject=subject, account_id=account_id, hidden_at=event.at)
                .on_conflict_do_nothing(index_elements=["issuer", "subject", "account_id"])
                .returning(hidden_accounts.c.account_id)
            )
            if conn.execute(stmt).first() is None:
                return False
            self._record(conn, event)
            return True

    def show_account(self, issuer: str, subject: str, account_id: str, event: AuditEvent) -> bool:
        where = (
            hidden_accounts.c.issuer == issuer,
            hidden_accounts.c.subject == subject,
            hidden_accounts.c.account_id == account_id,
        )
        with self._write() as conn:
            if conn.execute(sa.delete(hidden_accounts).where(*where)).rowcount == 0:
                return False
            self._record(conn, event)
            return True
