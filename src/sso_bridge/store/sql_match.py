"""The matcher's hot read path straight on the database driver.

Every login asks the directory for the accounts sharing a match key. Through SQLAlchemy
that read pays for an explicit transaction, statement compilation lookups and row
mappings; here it is one statement on a driver connection checked out of the engine's
pool (:mod:`.sql_driver`), in autocommit. SQLite answers it with its multi-index OR plan
over the key indexes; PostgreSQL runs it as a prepared statement with a generic plan.
Autocommit reads see every committed write at once (WAL on SQLite). The accounts linked
to a subject, asked on every login too, are read the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.engine import Engine

from sso_bridge.matching.decide import AccountEntry
from sso_bridge.matching.keys import MatchKeys, number_date
from sso_bridge.matching.normalize import normalize_name
from sso_bridge.model import AccountStatus, LocalAccount, Organisation
from sso_bridge.store.sql_driver import PooledDriver

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


_LINKED = """
SELECT a.account_id, a.org_id, a.login, a.roles, a.last_name, a.first_name,
       a.middle_name, a.birth_date, a.status
FROM accounts AS a
JOIN links AS l ON l.account_id = a.account_id
WHERE l.issuer = {p} AND l.subject = {p}
ORDER BY a.account_id
"""


def _statements(placeholder: str) -> tuple[str, str, str]:
    select = _SELECT.format(issuer=placeholder)
    find = select + _FIND_WHERE.format(p=placeholder)
    entry = select + _ENTRY_WHERE.format(p=placeholder)
    return find, entry, _LINKED.format(p=placeholder)


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


def account_from_tuple(row: Sequence[Any]) -> LocalAccount:
    """An account from a row in the column order of the linked-accounts statement."""
    (account_id, org_id, login, roles, last, first, middle, birth, status) = row
    role_list = _ROLES.get(roles)
    if role_list is None:
        role_list = _remember(_ROLES, roles, tuple(r for r in roles.split(";") if r))
    birth_date = None
    if birth is not None:
        birth_date = _DATES.get(birth) or _remember(_DATES, birth, number_date(birth))
    return LocalAccount(
        account_id=account_id,
        org_id=org_id,
        login=login,
        roles=role_list,
        last_name=last,
        first_name=first,
        middle_name=middle,
        birth_date=birth_date,
        status=_STATUSES.get(status) or AccountStatus(status),
    )


class EntryReader:
    """Reads account entries on pooled driver connections; see the module docstring.

    It holds no connection of its own: each read checks one out of ``engine``'s pool and
    gives it back, so the reads count against the pool's size like every other use.
    """

    def __init__(self, engine: Engine) -> None:
        self._driver = PooledDriver(engine)
        self._find_sql, self._entry_sql, self._linked_sql = _statements(self._driver.marker)
        self._hidden_sql = _HIDDEN.format(p=self._driver.marker)

    def find(self, keys: MatchKeys, issuer: str) -> list[AccountEntry]:
        """Entries sharing the name key, SNILS hash or passport hash of ``keys``."""
        params = (issuer, keys.name_key, keys.snils, keys.passport)
        return [entry_from_tuple(r) for r in self._driver.read(self._find_sql, params)]

    def entry(self, account_id: str, issuer: str | None) -> AccountEntry | None:
        """The entry of ``account_id`` with its link to ``issuer``, if it exists."""
        rows = self._driver.read(self._entry_sql, (issuer, account_id))
        return entry_from_tuple(rows[0]) if rows else None

    def linked_accounts(self, issuer: str, subject: str) -> list[LocalAccount]:
        """The accounts linked to ``subject`` of ``issuer``, by account id."""
        rows = self._driver.read(self._linked_sql, (issuer, subject))
        return [account_from_tuple(r) for r in rows]

    def hidden(self, issuer: str, subject: str) -> frozenset[str]:
        """The accounts hidden from issuer and subject (asked at every login with links)."""
        return frozenset(r[0] for r in self._driver.read(self._hidden_sql, (issuer, subject)))

    def close(self) -> None:
        """Nothing to close: the connections are the pool's (the engine disposes them)."""


def open_entry_reader(engine: Engine) -> EntryReader:
    """The fast reader over ``engine``'s pool (SQLite, in memory too, or PostgreSQL)."""
    return EntryReader(engine)
