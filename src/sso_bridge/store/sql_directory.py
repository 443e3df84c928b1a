"""The accounts directory of the SQL store: reads by id, login, subject and match keys,
and the bulk-import transaction."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from sso_bridge.errors import StoreError
from sso_bridge.importing.ports import account_row
from sso_bridge.matching.decide import AccountEntry
from sso_bridge.matching.keys import MatchKeys, number_date
from sso_bridge.matching.normalize import normalize_name, normalize_optional_name
from sso_bridge.model import AccountStatus, LocalAccount, Organisation
from sso_bridge.store.sql_engine import SqlBase
from sso_bridge.store.sql_import import SqlBulkImport
from sso_bridge.store.sql_match import EntryReader, open_entry_reader
from sso_bridge.store.sql_schema import accounts, links, organizations

__all__ = ["SqlDirectory"]

_ACCOUNT_BY_ID = sa.select(accounts).where(accounts.c.account_id == sa.bindparam("id"))
_ACCOUNTS_OF_SUBJECT = (
    sa.select(accounts)
    .join(links, links.c.account_id == accounts.c.account_id)
    .where(links.c.issuer == sa.bindparam("issuer"), links.c.subject == sa.bindparam("subject"))
    .order_by(accounts.c.account_id)
)


class SqlDirectory(SqlBase):
    """The :class:`~sso_bridge.matching.ports.AccountDirectory` and
    :class:`~sso_bridge.importing.ports.ImportTarget` of
    :class:`~sso_bridge.store.sql.SqlStore`."""

    _reader: EntryReader | None

    def _prepare_reads(self) -> None:
        """Build the read statements and open the driver-level reader, if any."""
        self._entry_query = (
            sa.select(
                accounts, organizations.c.name.label("org_name"), links.c.subject.label("linked")
            )
            .join(organizations, organizations.c.org_id == accounts.c.org_id)
            .outerjoin(
                links,
                sa.and_(
                    links.c.account_id == accounts.c.account_id,
                    links.c.issuer == sa.bindparam("issuer"),
                ),
            )
        )
        self._find = self._find_statement()
        self._reader = open_entry_reader(self.engine)
        if self._reader is not None:
            # one call less on the hot path of every login
            self.find_accounts = self._reader.find  # type: ignore[method-assign]

    @contextmanager
    def bulk_import(self, expected_rows: int = 0) -> Iterator[SqlBulkImport]:
        with self._write() as conn:
            if self._dialect == "postgresql":
                # a large load may take longer than a login's statement, and may wait
                # for another import
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
            writer = SqlBulkImport(conn, self._insert, expected_rows, accounts, organizations)
            yield writer
            writer.finish()

    def import_accounts(
        self,
        accounts_: Sequence[LocalAccount],
        organisations_: Iterable[Organisation] = (),
        *,
        organizations_: Iterable[Organisation] | None = None,
    ) -> int:
        """Insert or update (by ``account_id``) all accounts in one transaction.

        ``organizations_=`` is the old spelling of ``organisations_=``, kept for one release.
        """
        if organizations_ is not None:
            warnings.warn(
                "SqlStore.import_accounts(organizations_=...) is deprecated: pass organisations_=",
                DeprecationWarning,
                stacklevel=2,
            )
            organisations_ = organizations_
        rows = [account_row(a, self._blind_index) for a in accounts_]
        with self.bulk_import(len(rows)) as writer:
            writer.add_organisations(organisations_)
            unknown = sorted({r[1] for r in rows if not writer.has_organisation(r[1])})
            if unknown:
                raise StoreError(
                    f"unknown organisation(s): {', '.join(unknown)}",
                    code="store.unknown_organization",
                )
            writer.add_rows(rows)
        return len(rows)

    @staticmethod
    def _account(row: RowMapping) -> LocalAccount:
        birth = row["birth_date"]
        return LocalAccount(
            account_id=row["account_id"],
            org_id=row["org_id"],
            login=row["login"],
            roles=tuple(r for r in row["roles"].split(";") if r),
            last_name=row["last_name"],
            first_name=row["first_name"],
            middle_name=row["middle_name"],
            birth_date=None if birth is None else number_date(birth),
            status=AccountStatus(row["status"]),
        )

    def get_account(self, account_id: str) -> LocalAccount | None:
        with self.engine.connect() as conn:
            row = conn.execute(_ACCOUNT_BY_ID, {"id": account_id}).mappings().first()
        return None if row is None else self._account(row)

    def linked_accounts(self, issuer: str, subject: str) -> list[LocalAccount]:
        if self._reader is not None:  # the driver read (sql_match), as every login asks
            return self._reader.linked_accounts(issuer, subject)
        with self.engine.connect() as conn:
            found = conn.execute(_ACCOUNTS_OF_SUBJECT, {"issuer": issuer, "subject": subject})
            return [self._account(r) for r in found.mappings()]

    def find_by_login(self, org_id: str, login: str) -> LocalAccount | None:
        """The account of ``org_id`` whose login is exactly ``login``.

        ``None`` when there is none, and also when several accounts of the organisation
        share that login: an ambiguous login is refused, never guessed.
        """
        query = (
            sa.select(accounts)
            .where(accounts.c.org_id == org_id, accounts.c.login == login)
            .limit(2)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return self._account(rows[0]) if len(rows) == 1 else None

    def list_organisations(self) -> list[Organisation]:
        query = sa.select(organizations).order_by(organizations.c.name, organizations.c.org_id)
        with self.engine.connect() as conn:
            return [Organisation(r["org_id"], r["name"]) for r in conn.execute(query).mappings()]

    def get_organisation(self, org_id: str) -> Organisation | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(organizations.c.name).where(organizations.c.org_id == org_id)
            ).first()
        return None if row is None else Organisation(org_id, row[0])

    # The old spellings of the two methods above, kept for one release.
    list_organizations = list_organisations
    get_organization = get_organisation

    def list_accounts(
        self, *, org_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[LocalAccount]:
        query = sa.select(accounts).order_by(accounts.c.account_id).limit(limit).offset(offset)
        if org_id is not None:
            query = query.where(accounts.c.org_id == org_id)
        with self.engine.connect() as conn:
            return [self._account(r) for r in conn.execute(query).mappings()]

    def count_accounts(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(accounts)) or 0)

    def _find_statement(self) -> sa.Select[Any]:
        a = accounts
        by_name = sa.select(a.c.account_id).where(a.c.name_key == sa.bindparam("name_key"))
        by_snils = sa.select(a.c.account_id).where(
            a.c.snils_hash == sa.bindparam("snils", type_=sa.LargeBinary)
        )
        by_passport = sa.select(a.c.account_id).where(
            a.c.passport_hash == sa.bindparam("passport", type_=sa.LargeBinary)
        )
        ids = sa.union(by_name, by_snils, by_passport)
        return self._entry_query.where(a.c.account_id.in_(ids))

    def get_entry(self, account_id: str, issuer: str | None = None) -> AccountEntry | None:
        if self._reader is not None:
            return self._reader.entry(account_id, issuer)
        query = self._entry_query.where(accounts.c.account_id == account_id)
        with self.engine.connect() as conn:
            row = conn.execute(query, {"issuer": issuer}).mappings().first()
        return None if row is None else self.entry_from_row(row)

    def find_accounts(self, keys: MatchKeys, issuer: str) -> list[AccountEntry]:
        if self._reader is not None:
            return self._reader.find(keys, issuer)
        return self._find_accounts_sqlalchemy(keys, issuer)

    def _find_accounts_sqlalchemy(self, keys: MatchKeys, issuer: str) -> list[AccountEntry]:
        """The same read through SQLAlchemy: in-memory SQLite, and the cross-check."""
        params = {
            "name_key": keys.name_key,
            "snils": keys.snils,
            "passport": keys.passport,
            "issuer": issuer,
        }
        with self.engine.connect() as conn:
            rows = conn.execute(self._find, params).mappings().all()
        return [self.entry_from_row(r) for r in rows]

    @classmethod
    def entry_from_row(cls, row: RowMapping) -> AccountEntry:
        """An entry from a row of ``accounts`` joined with ``org_name`` and ``linked``."""
        account = cls._account(row)
        return AccountEntry(
            account=account,
            organisation=Organisation(row["org_id"], row["org_name"]),
            keys=MatchKeys(
                last=normalize_name(account.last_name),
                first=normalize_name(account.first_name),
                middle=normalize_optional_name(account.middle_name),
                birth_date=account.birth_date,
                snils=row["snils_hash"],
                passport=row["passport_hash"],
            ),
            linked_subject=row["linked"],
        )
