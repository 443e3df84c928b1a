"""Database URLs and engines of the SQL store (SQLite, the embedded default, and
PostgreSQL), and the base its parts share: one engine, writes in error-mapped
transactions, inserts in the dialect's form."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

from sso_bridge.errors import ConfigError, StoreNotFound
from sso_bridge.matching.keys import BlindIndex
from sso_bridge.store.guard import install, raise_as_store_error
from sso_bridge.store.guard_methods import Guarded
from sso_bridge.store.settings import DatabaseSettings
from sso_bridge.store.sql_driver import SharedQueuePool

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


def create_engine(url: str, settings: DatabaseSettings | None = None) -> Engine:
    """An engine for ``url`` set up for this schema (WAL and FK checks on SQLite), with the
    timeouts, pool sizes and guard (:mod:`.guard`) of ``settings``."""
    settings = settings or DatabaseSettings()
    parsed = parse_db_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed,
            connect_args={"timeout": settings.busy_timeout},
            **_sqlite_pool(parsed),
        )
        _configure_sqlite(engine, settings)
    else:
        engine = sa.create_engine(
            parsed,
            connect_args=_postgres_args(parsed, settings),
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout,
            pool_recycle=settings.pool_recycle or -1,
            # the guard pings connections that were idle (settings.ping_after) itself
            pool_pre_ping=False,
        )
    install(engine, settings)
    return engine


def _sqlite_pool(url: sa.URL) -> dict[str, Any]:
    """A file's pool: SQLAlchemy's own (a queue of five, ten more on demand) that also
    holds the driver reads' connections (:class:`~.sql_driver.SharedQueuePool`); an
    in-memory database keeps SQLAlchemy's choice."""
    name = url.database
    if name in (None, "", ":memory:") or url.query.get("mode") == "memory":
        return {}
    return {"poolclass": SharedQueuePool}


def _postgres_args(url: sa.URL, settings: DatabaseSettings) -> dict[str, Any]:
    """psycopg's connection parameters: libpq's timeouts, keepalives and the server
    settings; what the URL sets itself wins."""

    def ms(seconds: float) -> int:
        return max(1, round(seconds * 1000))

    server = (
        f"-c statement_timeout={ms(settings.statement_timeout)} "
        f"-c lock_timeout={ms(settings.lock_timeout)} "
        "-c idle_in_transaction_session_timeout="
        f"{ms(settings.idle_in_transaction_timeout)}"
    )
    given = url.query.get("options")
    if given:
        server += " " + (given if isinstance(given, str) else " ".join(given))
    args: dict[str, Any] = {
        "options": server,
        # libpq counts whole seconds
        "connect_timeout": max(1, math.ceil(settings.connect_timeout)),
        # data unacknowledged this long means a dead peer (a network cut)
        "tcp_user_timeout": ms(settings.answer_timeout + settings.connect_timeout),
    }
    if settings.keepalive_idle:
        args.update(
            keepalives=1,
            keepalives_idle=settings.keepalive_idle,
            keepalives_interval=max(1, min(10, settings.keepalive_idle)),
            keepalives_count=3,
        )
    return {
        name: value for name, value in args.items() if name == "options" or name not in url.query
    }


def _configure_sqlite(engine: Engine, settings: DatabaseSettings) -> None:
    busy_ms = round(settings.busy_timeout * 1000)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN itself, so that writers can
        # take the write lock up front instead of failing to upgrade a read lock.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
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


class SqlBase(Guarded):
    """What the parts of :class:`~sso_bridge.store.sql.SqlStore` share: the engine, the
    blind index, write transactions and dialect-specific inserts.

    Every public method of every part is guarded (:class:`~.guard_methods.Guarded`): bounded in
    number, watched for an answer, its driver errors ``store.unavailable``.
    """

    _unwatched = frozenset({"bulk_import", "import_accounts"})
    _light = frozenset({"find_accounts", "get_entry", "linked_accounts", "hidden_accounts"})

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
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); a database fault in it is
        a ``StoreError`` already here, for the callers that catch one."""
        try:
            with self._writer.begin() as conn:
                yield conn
        except Exception as exc:
            raise_as_store_error(exc)
