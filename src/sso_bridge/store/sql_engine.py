"""Database URLs and engines of the SQL store (SQLite, the embedded default, and
PostgreSQL), and the base its parts share: one engine, writes in error-mapped
transactions, inserts in the dialect's form."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

from sso_bridge.errors import ConfigError, StoreError, StoreNotFound
from sso_bridge.matching.keys import BlindIndex

__all__ = ["SqlBase", "check_database_file", "create_engine", "parse_db_url", "utc"]


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a time without a timezone is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _engine_url(url: str) -> str:
    # A bare postgresql:// URL would make SQLAlchemy look for psycopg2; we ship psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


_DRIVERS = frozenset({"pysqlite", "psycopg"})


def parse_db_url(url: str) -> sa.URL:
    """Parse and check a database URL; only SQLite and PostgreSQL are served."""
    try:
        parsed = sa.engine.make_url(_engine_url(url))
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"not a database URL: {url!r}", code="config.bad_db_url") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r}; "
            "use sqlite:///FILE or postgresql://USER@HOST/DB",
            code="config.bad_db_url",
        )
    if parsed.get_driver_name() not in _DRIVERS:
        raise ConfigError(
            f"unsupported database driver {parsed.get_driver_name()!r}; "
            "use sqlite:///FILE or postgresql://USER@HOST/DB (psycopg 3)",
            code="config.bad_db_url",
        )
    return parsed


def create_engine(url: str) -> Engine:
    """An engine for ``url`` set up for this schema (WAL and FK checks on SQLite)."""
    parsed = parse_db_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN itself, so that writers can
        # take the write lock up front instead of failing to upgrade a read lock.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def check_database_file(url: str) -> None:
    """``store.not_found`` when ``url`` names a SQLite file that does not exist or is
    empty (SQLite would create it on connecting)."""
    parsed = parse_db_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or name in (None, "", ":memory:"):
        return
    path = Path(name)
    if name.startswith("file:") or (path.is_file() and path.stat().st_size > 0):
        return
    raise StoreNotFound(
        f"the database {name} does not exist; create it with: sso-bridge init --db "
        f"sqlite:///{name} (or check --db / SSO_BRIDGE_DB)",
        code="store.not_found",
    )


class SqlBase:
    """What the parts of :class:`~sso_bridge.store.sql.SqlStore` share: the engine, the
    blind index, write transactions and dialect-specific inserts."""

    def __init__(self, engine: Engine, blind_index: BlindIndex) -> None:
        self.engine = engine
        self._blind_index = blind_index
        self._dialect = engine.dialect.name
        self._writer = engine.execution_options(write=True)

    @property
    def blind_index(self) -> BlindIndex:
        return self._blind_index

    def _insert(self, table: sa.Table) -> Any:
        return pg.insert(table) if self._dialect == "postgresql" else sqlite.insert(table)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._writer.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StoreError(
                f"database write failed: {exc.orig}", code="store.write_failed"
            ) from exc
