"""One SQL schema, two databases: SQLite (embedded default) and PostgreSQL.

Written with SQLAlchemy Core. Uniqueness of links is a database constraint, every write
that changes links is one transaction together with its audit event, and SNILS and
passport numbers are stored only as keyed hashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine, RowMapping

from sso_bridge.audit.sql import SqlAuditTrail
from sso_bridge.errors import (
    AccountNotFound,
    ConfigError,
    LinkConflict,
    LinkNotFound,
    StoreError,
)
from sso_bridge.matching.decide import AccountEntry
from sso_bridge.matching.keys import HASH_BYTES, BlindIndex, MatchKeys, name_key, number_date
from sso_bridge.matching.normalize import (
    NAME_RULES_VERSION,
    normalize_name,
    normalize_optional_name,
)
from sso_bridge.model import (
    AccountStatus,
    AuditEvent,
    Link,
    LinkMethod,
    LocalAccount,
    Organization,
)
from sso_bridge.store.base import account_row
from sso_bridge.store.sql_import import SqlBulkImport
from sso_bridge.store.sql_match import open_entry_reader

SCHEMA_VERSION = 2
"""1: accounts, links, audit. 2: audit records chained (user_agent, chain_hash), login index."""

metadata = sa.MetaData()

meta_table = sa.Table(
    "sso_meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("org_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", sa.String(128), primary_key=True),
    sa.Column("org_id", sa.String(128), sa.ForeignKey("organizations.org_id"), nullable=False),
    sa.Column("login", sa.Text),
    sa.Column("roles", sa.Text, nullable=False, default=""),
    sa.Column("last_name", sa.Text, nullable=False),
    sa.Column("first_name", sa.Text, nullable=False),
    sa.Column("middle_name", sa.Text),
    # YYYYMMDD: compact, ordered, and the same on every database
    sa.Column("birth_date", sa.Integer),
    # 64-bit hash of (normalised last name, first name, birth date); see matching.keys
    sa.Column("name_key", sa.BigInteger),
    sa.Column("snils_hash", sa.LargeBinary(HASH_BYTES)),
    sa.Column("passport_hash", sa.LargeBinary(HASH_BYTES)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.CheckConstraint("status IN ('active', 'blocked')", name="ck_accounts_status"),
    sa.Index("ix_accounts_name_key", "name_key"),
    sa.Index("ix_accounts_snils", "snils_hash"),
    sa.Index("ix_accounts_passport", "passport_hash"),
    sa.Index("ix_accounts_org", "org_id"),
    sa.Index("ix_accounts_login", "org_id", "login"),
)

links = sa.Table(
    "links",
    metadata,
    sa.Column("issuer", sa.String(512), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column(
        "account_id",
        sa.String(128),
        sa.ForeignKey("accounts.account_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("ip", sa.String(64)),
    # One local account has at most one link per issuer (docs/matching.md).
    sa.PrimaryKeyConstraint("account_id", "issuer", name="pk_links"),
    sa.Index("ix_links_subject", "issuer", "subject"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("event_id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("method", sa.String(16)),
    sa.Column("issuer", sa.String(512)),
    sa.Column("subject", sa.String(512)),
    sa.Column("account_id", sa.String(128)),
    sa.Column("ip", sa.String(64)),
    sa.Column("code", sa.String(64)),
    sa.Column("detail", sa.Text),
    sa.Column("user_agent", sa.Text),
    # hex SHA-256 over the previous record's chain_hash and this record (sso_bridge.audit)
    sa.Column("chain_hash", sa.String(64)),
    sa.Index("ix_audit_account", "account_id", "event_id"),
)


_ACCOUNT_BY_ID = sa.select(accounts).where(accounts.c.account_id == sa.bindparam("id"))
_ACCOUNTS_OF_SUBJECT = (
    sa.select(accounts)
    .join(links, links.c.account_id == accounts.c.account_id)
    .where(links.c.issuer == sa.bindparam("issuer"), links.c.subject == sa.bindparam("subject"))
    .order_by(accounts.c.account_id)
)
_LINKS_OF_SUBJECT = (
    sa.select(links)
    .where(links.c.issuer == sa.bindparam("issuer"), links.c.subject == sa.bindparam("subject"))
    .order_by(links.c.account_id)
)


def _utc(value: datetime) -> datetime:
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


class SqlStore:
    """Accounts directory, link store and audit log over one SQL database.

    Implements :class:`~sso_bridge.store.AccountDirectory`,
    :class:`~sso_bridge.store.LinkStore` and :class:`~sso_bridge.store.AuditLog`.
    """

    def __init__(self, engine: Engine, blind_index: BlindIndex) -> None:
        self.engine = engine
        self._blind_index = blind_index
        self._dialect = engine.dialect.name
        self._writer = engine.execution_options(write=True)
        self._audit = SqlAuditTrail(audit)
        self._migrate()
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
        self._reader = open_entry_reader(engine.url)
        if self._reader is not None:
            # one call less on the hot path of every login
            self.find_accounts = self._reader.find  # type: ignore[method-assign]

    # -- set-up ---------------------------------------------------------------------------

    @property
    def blind_index(self) -> BlindIndex:
        return self._blind_index

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self.engine.dispose()

    def _migrate(self) -> None:
        with self._write() as conn:
            if self._dialect == "postgresql":
                # Serialise first use by several processes; CREATE TABLE races otherwise.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7261531)"))
            metadata.create_all(conn, checkfirst=True)
            stored = dict(conn.execute(sa.select(meta_table.c.name, meta_table.c.value)).all())
            version = int(stored.get("schema_version", "0"))
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the database has schema version {version}; this sso_bridge knows "
                    f"up to {SCHEMA_VERSION}. Upgrade sso_bridge.",
                    code="store.schema_too_new",
                )
            key_id = stored.get("blind_index_key_id")
            if key_id is not None and key_id != self._blind_index.key_id:
                raise StoreError(
                    "the blind-index key differs from the one this database was built with",
                    code="store.key_mismatch",
                )
            if version < SCHEMA_VERSION:
                self._upgrade(conn)
                self._put_meta(conn, "schema_version", str(SCHEMA_VERSION))
            rules = str(NAME_RULES_VERSION)
            if stored.get("name_rules") != rules:
                if "name_rules" in stored:
                    self._rebuild_name_keys(conn)
                self._put_meta(conn, "name_rules", rules)
            if key_id is None:
                self._put_meta(conn, "blind_index_key_id", self._blind_index.key_id)

    def _upgrade(self, conn: Connection) -> None:
        """Schema 1 -> 2: the login index; audit columns, its index, its rows chained."""
        for index in accounts.indexes:
            index.create(conn, checkfirst=True)
        self._audit.upgrade(conn)

    @staticmethod
    def _rebuild_name_keys(conn: Connection) -> None:
        """Recompute every name key after the name normalisation rules changed."""
        query = sa.select(
            accounts.c.account_id,
            accounts.c.last_name,
            accounts.c.first_name,
            accounts.c.birth_date,
        ).where(accounts.c.birth_date.is_not(None))
        update = (
            accounts.update()
            .where(accounts.c.account_id == sa.bindparam("id"))
            .values(name_key=sa.bindparam("key"))
        )
        batch: list[dict[str, Any]] = []
        for account_id, last, first, birth in conn.execute(query).all():
            key = name_key(normalize_name(last), normalize_name(first), birth)
            batch.append({"id": account_id, "key": key})
        if batch:
            conn.execute(update, batch)

    def _put_meta(self, conn: Connection, name: str, value: str) -> None:
        stmt = self._insert(meta_table).values(name=name, value=value)
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": value}))

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

    # -- accounts directory ---------------------------------------------------------------

    @contextmanager
    def bulk_import(self, expected_rows: int = 0) -> Iterator[SqlBulkImport]:
        with self._write() as conn:
            writer = SqlBulkImport(conn, self._insert, expected_rows, accounts, organizations)
            yield writer
            writer.finish()

    def import_accounts(
        self, accounts_: Sequence[LocalAccount], organizations_: Iterable[Organization] = ()
    ) -> int:
        rows = [account_row(a, self._blind_index) for a in accounts_]
        with self.bulk_import(len(rows)) as writer:
            writer.add_organizations(organizations_)
            unknown = sorted({r[1] for r in rows if not writer.has_organization(r[1])})
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

    def list_organizations(self) -> list[Organization]:
        query = sa.select(organizations).order_by(organizations.c.name, organizations.c.org_id)
        with self.engine.connect() as conn:
            return [Organization(r["org_id"], r["name"]) for r in conn.execute(query).mappings()]

    def get_organization(self, org_id: str) -> Organization | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(organizations.c.name).where(organizations.c.org_id == org_id)
            ).first()
        return None if row is None else Organization(org_id, row[0])

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
            organization=Organization(row["org_id"], row["org_name"]),
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

    # -- links ----------------------------------------------------------------------------

    @staticmethod
    def _link(row: RowMapping) -> Link:
        return Link(
            issuer=row["issuer"],
            subject=row["subject"],
            account_id=row["account_id"],
            method=LinkMethod(row["method"]),
            created_at=_utc(row["created_at"]),
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
        # every login asks this: a statement built once is a compiled-cache hit
        with self.engine.connect() as conn:
            found = conn.execute(_LINKS_OF_SUBJECT, {"issuer": issuer, "subject": subject})
            return [self._link(r) for r in found.mappings()]

    def links_for_account(self, account_id: str) -> list[Link]:
        return self.list_links(account_id=account_id, limit=10_000)

    # -- audit ----------------------------------------------------------------------------

    def _record(self, conn: Connection, event: AuditEvent) -> AuditEvent:
        return self._audit.append(conn, event)

    def record(self, event: AuditEvent) -> AuditEvent:
        with self._write() as conn:
            return self._record(conn, event)

    def record_many(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        with self._write() as conn:
            return self._audit.append_many(conn, events)

    def tail(
        self,
        limit: int = 20,
        *,
        account_id: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEvent]:
        with self.engine.connect() as conn:
            return self._audit.tail(conn, limit, account_id, since)

    def events(self, after_id: int = 0, limit: int = 1000) -> list[AuditEvent]:
        with self.engine.connect() as conn:
            return self._audit.events(conn, after_id, limit)


def open_store(url: str, key: bytes, *, create: bool = True) -> SqlStore:
    """Open (creating or migrating on first use) the store at ``url``.

    ``key`` is the blind-index secret (at least 32 bytes). The same key must be used for
    the whole life of a database; a different one is refused with ``store.key_mismatch``.
    With ``create=False`` a database that does not exist yet (no SQLite file, or no schema)
    is refused with ``store.not_found`` and nothing is created.
    """
    parsed = parse_db_url(url)
    if not create:
        check_database_file(url)
    engine = create_engine(url)
    index = BlindIndex(key)
    try:
        with engine.connect() as conn:
            if not create and not sa.inspect(conn).has_table(meta_table.name):
                raise StoreError(
                    f"the database {parsed.render_as_string()} has no sso_bridge schema; "
                    "create it with: sso-bridge init --db URL",
                    code="store.not_found",
                )
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0]
        raise StoreError(f"cannot open the database: {reason}", code="store.unavailable") from exc
    except BaseException:
        engine.dispose()
        raise
    try:
        return SqlStore(engine, index)
    except BaseException:
        engine.dispose()
        raise


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
    raise StoreError(
        f"the database {name} does not exist; create it with: sso-bridge init --db "
        f"sqlite:///{name} (or check --db / SSO_BRIDGE_DB)",
        code="store.not_found",
    )
