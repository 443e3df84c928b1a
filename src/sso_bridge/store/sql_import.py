"""The bulk-import transaction of the SQL store, on the driver where it pays.

A large load into an empty or comparatively small table drops the secondary indexes and
builds them again at the end: sorting once is several times faster than updating four
B-trees row by row.

* SQLite: rows go to ``executemany``. Into a table that was empty when the import began,
  a plain INSERT; should an account id come again (a later file of the same import), that
  batch is written again as an UPSERT, which gives the same rows as upserting throughout.
  Readers are not held up: in WAL mode they see the old snapshot until the commit.
* PostgreSQL: rows go through ``COPY``. Into an empty table straight into ``accounts``
  (each batch under a savepoint, redone as an UPSERT on a repeated id); otherwise into a
  temporary table that one ``INSERT … ON CONFLICT`` merges at the end, the last row of an
  id winning. Dropping the indexes takes the table's exclusive lock, so on PostgreSQL it
  is done only for a first load into an empty table: logins wait for that commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sso_bridge.importing.ports import ACCOUNT_ROW_COLUMNS, AccountRow
from sso_bridge.model import Organisation

__all__ = ["SqlBulkImport"]

_LARGE_LOAD_ROWS = 10_000
_SQLITE_IMPORT_CACHE_KIB = 256 * 1024
_COLUMNS = ", ".join(ACCOUNT_ROW_COLUMNS)
_STAGING = "sso_bridge_import_rows"
_UPDATE_SET = ", ".join(f"{c} = excluded.{c}" for c in ACCOUNT_ROW_COLUMNS if c != "account_id")
# Every name below is a constant of this module; values are always bound.
_INSERT_SQL = (
    f"INSERT INTO accounts ({_COLUMNS}) VALUES ({', '.join('?' * len(ACCOUNT_ROW_COLUMNS))})"  # noqa: S608
)
_UPSERT_SQL = f"{_INSERT_SQL} ON CONFLICT (account_id) DO UPDATE SET {_UPDATE_SET}"
_STAGE_SQL = (
    f"CREATE TEMPORARY TABLE {_STAGING} ON COMMIT DROP AS "  # noqa: S608
    f"SELECT {_COLUMNS} FROM accounts WITH NO DATA"
)
_MERGE_SQL = (
    f"INSERT INTO accounts ({_COLUMNS}) SELECT DISTINCT ON (account_id) {_COLUMNS} "  # noqa: S608
    f"FROM {_STAGING} ORDER BY account_id, seq DESC "
    f"ON CONFLICT (account_id) DO UPDATE SET {_UPDATE_SET}"
)


class SqlBulkImport:
    """One import transaction (see :class:`~sso_bridge.importing.ports.BulkImport`)."""

    def __init__(
        self,
        conn: Connection,
        insert: Callable[[sa.Table], Any],
        expected: int,
        accounts: sa.Table,
        organisations: sa.Table,
    ) -> None:
        self._conn = conn
        self._insert = insert
        self._accounts = accounts
        self._organisations = organisations
        self._known_orgs: set[str] = set()
        self._dropped: list[sa.Index] = []
        self._restore: list[str] = []
        self._sqlite = conn.dialect.name == "sqlite"
        raw = conn.connection.driver_connection
        if raw is None:
            raise RuntimeError("the import connection is closed")
        self._raw: Any = raw
        stmt = insert(accounts).values({c: sa.bindparam(c) for c in ACCOUNT_ROW_COLUMNS})
        self._upsert = stmt.on_conflict_do_update(
            index_elements=["account_id"],
            set_={c: stmt.excluded[c] for c in ACCOUNT_ROW_COLUMNS if c != "account_id"},
        )
        self._fresh = conn.execute(sa.select(sa.exists().select_from(accounts))).scalar() is False
        self._staged = 0
        self._written = 0
        if self._sqlite:
            self._prepare_sqlite(expected)
        else:
            self._prepare_postgresql(expected)

    # -- set-up ----------------------------------------------------------------------------

    def _prepare_sqlite(self, expected: int) -> None:
        for pragma in ("cache_size", "threads"):
            value = self._conn.exec_driver_sql(f"PRAGMA {pragma}").scalar()
            self._restore.append(f"PRAGMA {pragma}={int(value or 0)}")
        self._conn.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_IMPORT_CACHE_KIB}")
        self._conn.exec_driver_sql("PRAGMA threads=2")
        if expected > _LARGE_LOAD_ROWS:
            existing = 0
            if not self._fresh:
                count = sa.select(sa.func.count()).select_from(self._accounts)
                existing = self._conn.scalar(count) or 0
            if expected > existing:
                self._drop_indexes()

    def _prepare_postgresql(self, expected: int) -> None:
        if self._fresh:
            if expected > _LARGE_LOAD_ROWS:
                self._drop_indexes()
        else:
            # The staging table has no constraints; `seq` keeps the file order so that
            # the last row of a repeated id wins, as with row-by-row upserts.
            self._conn.exec_driver_sql(_STAGE_SQL)
            self._conn.exec_driver_sql(
                f"ALTER TABLE {_STAGING} ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY"
            )

    def _drop_indexes(self) -> None:
        self._dropped = list(self._accounts.indexes)
        for index in self._dropped:
            index.drop(self._conn)

    # -- BulkImport ------------------------------------------------------------------------

    def add_organisations(self, organisations: Iterable[Organisation]) -> None:
        values = [{"org_id": o.org_id, "name": o.name} for o in organisations]
        if not values:
            return
        stmt = self._insert(self._organisations)
        self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["org_id"], set_={"name": stmt.excluded.name}
            ),
            values,
        )
        self._known_orgs.update(v["org_id"] for v in values)

    def has_organisation(self, org_id: str) -> bool:
        if org_id in self._known_orgs:
            return True
        table = self._organisations
        query = sa.select(table.c.org_id).where(table.c.org_id == org_id)
        if self._conn.execute(query).first() is None:
            return False
        self._known_orgs.add(org_id)
        return True

    # The old spellings of the two methods above, kept for one release.
    add_organizations = add_organisations
    has_organization = has_organisation

    def add_rows(self, rows: Sequence[AccountRow]) -> None:
        if not rows:
            return
        self._written += len(rows)
        if self._sqlite:
            self._add_sqlite(rows)
        elif self._fresh:
            self._copy_fresh(rows)
        else:
            self._copy(_STAGING, rows)
            self._staged += len(rows)

    def finish(self) -> None:
        if self._staged:
            self._conn.exec_driver_sql(_MERGE_SQL)
        for index in self._dropped:
            index.create(self._conn)
        if self._written > _LARGE_LOAD_ROWS and not self._sqlite:
            # Fresh statistics at once, not at autovacuum's leisure: without them the
            # planner hashes the whole organisations table for every match.
            self._conn.exec_driver_sql("ANALYZE accounts")
            self._conn.exec_driver_sql("ANALYZE organizations")
        for statement in self._restore:
            self._conn.exec_driver_sql(statement)

    # -- writing ---------------------------------------------------------------------------

    def _add_sqlite(self, rows: Sequence[AccountRow]) -> None:
        cursor = self._raw.cursor()
        try:
            if self._fresh:
                try:
                    cursor.executemany(_INSERT_SQL, rows)
                    return
                except sqlite3.IntegrityError as exc:
                    if "UNIQUE" not in str(exc):
                        raise
                    self._fresh = False
            cursor.executemany(_UPSERT_SQL, rows)
        finally:
            cursor.close()

    def _copy(self, table: str, rows: Sequence[AccountRow]) -> None:
        with (
            self._raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({_COLUMNS}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def _copy_fresh(self, rows: Sequence[AccountRow]) -> None:
        try:
            with self._raw.transaction():
                self._copy("accounts", rows)
            return
        except psycopg.errors.UniqueViolation:
            self._fresh = False
        values = [dict(zip(ACCOUNT_ROW_COLUMNS, row, strict=True)) for row in rows]
        self._conn.execute(self._upsert, values)
