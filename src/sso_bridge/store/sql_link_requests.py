"""The pending link requests of the SQL store (``link_requests``): the
:class:`~sso_bridge.linking.requests.LinkRequestStore` that
:class:`~sso_bridge.store.sql.SqlStore` implements.

Revision 0007 creates the table; it is also created on first use (``checkfirst``), so a
store opened on a database whose revisions another process runs still works. One request
per (account, issuer, subject) is kept by a unique constraint; of two callers consuming
one request, only the one whose ``DELETE`` removed the row gets it.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from sso_bridge.linking.requests import LinkRequest
from sso_bridge.store.sql_engine import SqlBase, utc
from sso_bridge.store.sql_schema import accounts
from sso_bridge.store.sqltables import OwnTables

__all__ = ["SqlLinkRequests", "link_requests", "metadata"]

metadata = sa.MetaData()

link_requests = sa.Table(
    "link_requests",
    metadata,
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column(
        "account_id",
        sa.String(128),
        sa.ForeignKey(accounts.c.account_id, ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("issuer", sa.String(512), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("differing", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ip", sa.String(64)),
    sa.PrimaryKeyConstraint("request_id", name="pk_link_requests"),
    sa.UniqueConstraint("account_id", "issuer", "subject", name="uq_link_requests_identity"),
    sa.Index("ix_link_requests_subject", "issuer", "subject"),
    sa.Index("ix_link_requests_created", "created_at"),
)

_CREATE_LOCK = 7261547  # serialises CREATE TABLE by several processes on PostgreSQL


def _request(row: RowMapping) -> LinkRequest:
    return LinkRequest(
        request_id=row["request_id"],
        account_id=row["account_id"],
        issuer=row["issuer"],
        subject=row["subject"],
        differing=row["differing"],
        created_at=utc(row["created_at"]),
        ip=row["ip"],
    )


class SqlLinkRequests(SqlBase):
    """The ``link_requests`` methods of :class:`~sso_bridge.store.sql.SqlStore`."""

    @cached_property
    def _request_tables(self) -> OwnTables:
        return OwnTables(self.engine, metadata, _CREATE_LOCK)

    def add(self, request: LinkRequest) -> LinkRequest:
        """Keep ``request``, or return the one kept for its (account, issuer, subject)."""
        stmt = (
            self._insert(link_requests)
            .values(
                request_id=request.request_id,
                account_id=request.account_id,
                issuer=request.issuer,
                subject=request.subject,
                differing=request.differing,
                created_at=utc(request.created_at),
                ip=request.ip,
            )
            .on_conflict_do_nothing(index_elements=["account_id", "issuer", "subject"])
            .returning(link_requests.c.request_id)
        )
        with self._request_tables.write() as conn:
            if conn.execute(stmt).first() is not None:
                return request
            row = (
                conn.execute(
                    sa.select(link_requests).where(
                        link_requests.c.account_id == request.account_id,
                        link_requests.c.issuer == request.issuer,
                        link_requests.c.subject == request.subject,
                    )
                )
                .mappings()
                .one()
            )
            return _request(row)

    def pending(
        self,
        *,
        account_id: str | None = None,
        limit: int = 100,
        created_after: datetime | None = None,
    ) -> list[LinkRequest]:
        """Kept requests, oldest first (see the port)."""
        query = sa.select(link_requests).order_by(
            link_requests.c.created_at, link_requests.c.request_id
        )
        if account_id is not None:
            query = query.where(link_requests.c.account_id == account_id)
        if created_after is not None:
            query = query.where(link_requests.c.created_at > utc(created_after))
        with self._request_tables.read() as conn:
            rows = conn.execute(query.limit(max(0, limit))).mappings()
            return [_request(r) for r in rows]

    def get(self, request_id: str) -> LinkRequest | None:
        """The kept request with this id, or None."""
        query = sa.select(link_requests).where(link_requests.c.request_id == request_id)
        with self._request_tables.read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _request(row)

    def consume(self, request_id: str) -> LinkRequest | None:
        """Remove and return the request; None when another caller removed it first."""
        where = link_requests.c.request_id == request_id
        with self._request_tables.write() as conn:
            row = conn.execute(sa.select(link_requests).where(where)).mappings().first()
            if row is None or conn.execute(sa.delete(link_requests).where(where)).rowcount != 1:
                return None
            return _request(row)

    def expire(self, before: datetime) -> int:
        """Remove the requests created before ``before``."""
        return self._delete_requests(link_requests.c.created_at < utc(before))

    def erase_account(self, account_id: str) -> int:
        """Remove every request for ``account_id``."""
        return self._delete_requests(link_requests.c.account_id == account_id)

    def erase_subject(self, issuer: str, subject: str) -> int:
        """Remove every request of (issuer, subject)."""
        return self._delete_requests(
            link_requests.c.issuer == issuer, link_requests.c.subject == subject
        )

    def _delete_requests(self, *where: sa.ColumnElement[bool]) -> int:
        with self._request_tables.write() as conn:
            return int(conn.execute(sa.delete(link_requests).where(*where)).rowcount)
