"""The SQL store: one schema, two databases, SQLite (the embedded default) and PostgreSQL.

Written with SQLAlchemy Core. Uniqueness of links is a database constraint, every write
that changes links is one transaction together with its audit event, and SNILS and
passport numbers are stored only as keyed hashes. Its parts: the directory
(:mod:`.sql_directory`), the links (:mod:`.sql_links`), the audit trail
(:mod:`.sql_audit`), over one engine (:mod:`.sql_engine`) and schema
(:mod:`.sql_schema`, :mod:`.sql_migrate`). :func:`sso_bridge.store.open_store` opens one.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from sso_bridge.matching.keys import BlindIndex
from sso_bridge.store.sql_audit import SqlAuditTrail
from sso_bridge.store.sql_directory import SqlDirectory
from sso_bridge.store.sql_link_requests import SqlLinkRequests
from sso_bridge.store.sql_links import SqlLinks
from sso_bridge.store.sql_migrate import migrate
from sso_bridge.store.sql_schema import audit

__all__ = ["SqlStore"]


class SqlStore(SqlDirectory, SqlLinks, SqlLinkRequests):
    """Accounts directory, link store and audit log over one SQL database.

    Implements :class:`~sso_bridge.matching.ports.AccountDirectory`,
    :class:`~sso_bridge.importing.ports.ImportTarget`,
    :class:`~sso_bridge.linking.ports.LinkStore`,
    :class:`~sso_bridge.linking.requests.LinkRequestStore` and
    :class:`~sso_bridge.audit.ports.AuditLog`. Creates or upgrades the schema on first use.
    """

    def __init__(self, engine: Engine, blind_index: BlindIndex) -> None:
        super().__init__(engine, blind_index)
        self._audit = SqlAuditTrail(audit)
        with self._guard().call(watched=False), self._write() as conn:
            if self._dialect == "postgresql":
                # creating or upgrading the schema waits for another process doing it,
                # and may take longer than a login's statement
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
            migrate(conn, self._insert, blind_index.key_id, self._audit)
        self._prepare_reads()
        self._guard_instance_methods()

    def ping(self) -> None:
        """One round trip to the database (``SELECT 1``); ``store.unavailable`` when it
        does not answer within the settings' timeouts."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self.engine.dispose()
