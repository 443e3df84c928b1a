"""The matcher's hot read path straight on the database driver.

Every login asks the directory for the accounts sharing a match key. Through SQLAlchemy
that read pays for pool checkout, an explicit transaction and row mappings; here it is one
statement on a per-thread driver connection in autocommit mode. SQLite answers it with
its multi-index OR plan over the key indexes; PostgreSQL runs it as a prepared statement.
Autocommit reads see every committed write at once (WAL on SQLite).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from datetime import date
from typing import Any

import psycopg
import sqlalchemy as sa

from sso_bridge.errors import StoreError
from sso_bridge.matching.decide import AccountEntry
from sso_bridge.matching.keys import MatchKeys, number_date
from sso_bridge.matching.normalize import normalize_name
from sso_bridge.model import AccountStatus, LocalAccount, Organisation

_SELECT = """
SELECT a.account_id, a.org_id, a.login, a.roles, a.last_name, a.first_name,
       a.middle_name, a.birth_date, a.snils_hash, a.passport_hash, a.status,
       o.name, l.subject
FROM accounts AS a
JOIN organizations AS o ON o.org_id = a.org_id
LEFT JOIN links AS l ON l.account_id = a.account_id AND l.issuer = {issuer}
"""
_FIND_WHERE = "WHERE a.name_key = {p} OR a.snils_hash = {p} OR a.passport_hash = {p}"
_ENTRY_WHERE = "WHERE a.account_id = {p}"
_HIDDEN = "SELECT account_id FROM hidden_accounts WHERE issuer = {p} AND subject = {p}"


def _statements(placeholder: str) -> tuple[str, str]:
    select = _SELECT.format(issuer=placeholder)
    find = select + _FIND_WHERE.format(p=placeholder)
    entry = select + _ENTRY_WHERE.format(p=placeholder)
    return find, entry


# A region's names, birth dates, role lists and schools repeat a great deal (a name-key
# lookup returns namesakes): each distinct value is converted once, not once per row.
# The values are immutable, so sharing them is safe; each table is emptied when it grows
# past _CACHE_LIMIT.
_CACHE_LIMIT = 100_000
_NAMES: dict[str, str] = {}
_DATES: dict[int, date] = {}
_ROLES: dict[str, tuple[str, ...]] = {}
_ORGS: dict[tuple[str, str], Organisation] = {}
_STATUSES = {s.value: s for s in AccountStatus}


def _remember(table: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(table) >= _CACHE_LIMIT:
        table.clear()
    table[key] = value
    return value


def entry_from_tuple(row: Sequence[Any]) -> AccountEntry:
    """An entry from a row in the column order of the fast-path statements."""
    (account_id, org_id, login, roles, last, first, middle, birth, snils, passport) = row[:10]
    birth_date = None
    if birth is not None:
        birth_date = _DATES.get(birth) or _remember(_DATES, birth, number_date(birth))
    role_list = _ROLES.get(roles)
    if role_list is None:
        role_list = _remember(_ROLES, roles, tuple(r for r in roles.split(";") if r))
    org = _ORGS.get((org_id, row[11]))
    if org is None:
        org = _remember(_ORGS, (org_id, row[11]), Organisation(org_id, row[11]))
    account = LocalAccount(
        account_id=account_id,
        org_id=org_id,
        login=login,
        roles=role_list,
        last_name=last,
        first_name=first,
        middle_name=middle,
        birth_date=birth_date,
        status=_STATUSES.get(row[10]) or AccountStatus(row[10]),
    )
    names = _NAMES
    last_key = names.get(last) or _remember(names, last, normalize_name(last))
    first_key = names.get(first) or _remember(names, first, normalize_name(first))
    middle_key = None
    if middle:
        middle_key = names.get(middle)
        if middle_key is None:
            middle_key = _remember(names, middle, normalize_name(middle))
    return AccountEntry(
        account,
        org,
        MatchKeys(
            last_key,
            first_key,
            middle_key or None,
            birth_date,
            None if snils is None else bytes(snils),
            None if passport is None else bytes(passport),
        ),
        row[12],
    )


class EntryReader:
    """Finds account entries on per-thread driver connections; see the module docstring."""

    _find_sql: str
    _entry_sql: str
    _hidden_sql: str

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self._open: dict[threading.Thread, Any] = {}

    def find(self, keys: MatchKeys, issuer: str) -> list[AccountEntry]:
        """Entries sharing the name key, SNILS hash or passport hash of ``keys``."""
        params = (issuer, keys.name_key, keys.snils, keys.passport)
        return [entry_from_tuple(r) for r in self._fetch(self._find_sql, params)]

    def entry(self, account_id: str, issuer: str | None) -> AccountEntry | None:
        """The entry of ``account_id`` with its link to ``issuer``, if it exists."""
        rows = self._fetch(self._entry_sql, (issuer, account_id))
        return entry_from_tuple(rows[0]) if rows else None

    def hidden(self, issuer: str, subject: str) -> frozenset[str]:
        """The accounts hidden from issuer and subject (asked at every login with links)."""
        return frozenset(r[0] for r in self._fetch(self._hidden_sql, (issuer, subject)))

    def close(self) -> None:
        """Close every connection; a later read opens a new one."""
        with self._lock:
            opened, self._open = list(self._open.values()), {}
            self._local = threading.local()
        for conn in opened:
            conn.close()

    def connection_count(self) -> int:
        """How many driver connections are open now."""
        with self._lock:
            return len(self._open)

    def _connection(self) -> Any:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = self._connect()
            with self._lock:
                # connections of finished threads are closed here, not leaked
                dead = [t for t in self._open if not t.is_alive()]
                stale = [self._open.pop(t) for t in dead]
                self._open[threading.current_thread()] = conn
            for old in stale:
                old.close()
            local.conn = conn
        return conn

    def _forget(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        with self._lock:
            self._open.pop(threading.current_thread(), None)
        if conn is not None:
            # already broken: closing is best effort
            with contextlib.suppress(Exception):
                conn.close()

    def _connect(self) -> Any:
        raise NotImplementedError

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        raise NotImplementedError


class SqliteEntryReader(EntryReader):
    """Raw ``sqlite3`` connections in autocommit mode, read only."""

    _find_sql, _entry_sql = _statements("?")
    _hidden_sql = _HIDDEN.format(p="?")

    def __init__(self, database: str) -> None:
        super().__init__()
        self._database = database

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._database, timeout=30, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA query_only=ON")
        return conn

    def find(self, keys: MatchKeys, issuer: str) -> list[AccountEntry]:
        # _fetch inlined: this is the hot path of every login
        params = (issuer, keys.name_key, keys.snils, keys.passport)
        try:
            conn = getattr(self._local, "conn", None) or self._connection()
            rows = conn.execute(self._find_sql, params).fetchall()
        except sqlite3.Error as exc:
            self._forget()
            raise StoreError(f"database read failed: {exc}", code="store.unavailable") from exc
        return [entry_from_tuple(r) for r in rows]

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            conn = getattr(self._local, "conn", None) or self._connection()
            rows: list[Any] = conn.execute(sql, params).fetchall()
            return rows
        except sqlite3.Error as exc:
            self._forget()
            raise StoreError(f"database read failed: {exc}", code="store.unavailable") from exc


class PostgresEntryReader(EntryReader):
    """psycopg connections in autocommit mode with the statements prepared, planned once
    (a generic plan).

    There is no ping before a read: a read that fails on a broken connection reopens it
    and is tried once more.
    """

    _find_sql, _entry_sql = _statements("%s")
    _hidden_sql = _HIDDEN.format(p="%s")

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self._conninfo = conninfo

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._conninfo, autocommit=True)
        if conn.info.server_version >= 120000:
            # The find statement is equality lookups on indexes, whose best plan does not
            # depend on the values; left to itself the server keeps planning every call
            # afresh (a custom plan), which cost more than the lookups.
            conn.execute("SET plan_cache_mode = force_generic_plan")
        return conn

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        for attempt in (1, 2):
            try:
                conn = self._connection()
                rows: list[Any] = conn.execute(sql, params, prepare=True).fetchall()
                return rows
            except psycopg.OperationalError as exc:
                self._forget()
                if attempt == 2:
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "error"
                    raise StoreError(
                        f"database read failed: {reason}", code="store.unavailable"
                    ) from exc
        raise AssertionError("unreachable")


def open_entry_reader(url: sa.URL) -> EntryReader | None:
    """The fast reader for the database at ``url``, or ``None`` where it cannot share it.

    In-memory and URI-named SQLite databases are private to one connection's pool, so
    they stay on SQLAlchemy.
    """
    backend = url.get_backend_name()
    if backend == "sqlite":
        name = url.database
        if not name or name == ":memory:" or name.startswith("file:") or url.query:
            return None
        return SqliteEntryReader(name)
    if backend == "postgresql":
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresEntryReader(conninfo)
    return None
