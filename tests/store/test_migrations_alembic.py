"""The schema revisions: a new database at the newest revision equals the tables the code
declares; databases made by the releases before the revisions (schema 1 and 2) are
recognised, upgraded with their accounts, links and audit trail intact; the command line."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from helpers.accounts import ISSUER, KEY
from sso_bridge.audit import GENESIS, chain_hash, prepare, verify_log
from sso_bridge.cli import main
from sso_bridge.errors import StoreError
from sso_bridge.matching.keys import BlindIndex, name_key
from sso_bridge.matching.normalize import NAME_RULES_VERSION, normalize_name
from sso_bridge.model import AuditAction, AuditEvent
from sso_bridge.store import sql_migrate
from sso_bridge.store.sql import open_store
from sso_bridge.store.sql_schema import (
    SCHEMA_REVISION,
    SCHEMA_VERSION,
    VERSION_TABLE,
    metadata,
)

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
SNILS = "11223344595"


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def schema_diff(url: str) -> list[Any]:
    """What autogenerate would change to make the database equal the declared tables."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            opts = {"include_name": sql_migrate.include_name, "compare_type": True}
            return list(compare_metadata(MigrationContext.configure(conn, opts=opts), metadata))
    finally:
        engine.dispose()


def stored(url: str) -> tuple[str | None, str, int]:
    """(revision, schema_version, audit_heads rows)."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            state = sql_migrate.read_state(conn)
            heads = 0
            if sa.inspect(conn).has_table("audit_heads"):
                heads = conn.scalar(sa.text("SELECT count(*) FROM audit_heads"))
        return state.revision, (state.settings or {})["schema_version"], int(heads or 0)
    finally:
        engine.dispose()


# -- the databases of the releases before the revisions, as their code created them ------


def old_tables(version: int) -> sa.MetaData:
    """The tables the release at ``schema_version`` 1 or 2 declared (and ``create_all``-ed)."""
    md = sa.MetaData()
    sa.Table(
        "sso_meta",
        md,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    sa.Table(
        "organizations",
        md,
        sa.Column("org_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    login_index = [sa.Index("ix_accounts_login", "org_id", "login")] if version >= 2 else []
    sa.Table(
        "accounts",
        md,
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("org_id", sa.String(128), sa.ForeignKey("organizations.org_id"), nullable=False),
        sa.Column("login", sa.Text),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("last_name", sa.Text, nullable=False),
        sa.Column("first_name", sa.Text, nullable=False),
        sa.Column("middle_name", sa.Text),
        sa.Column("birth_date", sa.Integer),
        sa.Column("name_key", sa.BigInteger),
        sa.Column("snils_hash", sa.LargeBinary(16)),
        sa.Column("passport_hash", sa.LargeBinary(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.CheckConstraint("status IN ('active', 'blocked')", name="ck_accounts_status"),
        sa.Index("ix_accounts_name_key", "name_key"),
        sa.Index("ix_accounts_snils", "snils_hash"),
        sa.Index("ix_accounts_passport", "passport_hash"),
        sa.Index("ix_accounts_org", "org_id"),
        *login_index,
    )
    sa.Table(
        "links",
        md,
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
        sa.PrimaryKeyConstraint("account_id", "issuer", name="pk_links"),
        sa.Index("ix_links_subject", "issuer", "subject"),
    )
    chained: list[Any] = []
    if version >= 2:
        chained = [
            sa.Column("user_agent", sa.Text),
            sa.Column("chain_hash", sa.String(64)),
            sa.Index("ix_audit_account", "account_id", "event_id"),
        ]
    sa.Table(
        "audit",
        md,
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
        *chained,
    )
    return md


def old_events(version: int) -> list[AuditEvent]:
    """Link events as the release wrote them: unchained (1), chained from GENESIS (2)."""
    events, previous = [], GENESIS
    for i in range(4):
        detail = f"SNILS {SNILS[:3]}-{SNILS[3:6]}-{SNILS[6:9]} {SNILS[9:]}" if i == 1 else None
        event = AuditEvent(
            AuditAction.LINK, T0 + timedelta(minutes=i), "admin:olga", account_id=f"a{i % 2}"
        )
        event = attrs.evolve(event, detail=detail)
        if version >= 2:
            event = attrs.evolve(prepare(event), event_id=i + 1)
            previous = chain_hash(previous, event)
            event = attrs.evolve(event, chain_hash=previous)
        events.append(event)
    return events


def make_old_database(url: str, version: int) -> list[AuditEvent]:
    """A database as the release at ``version`` left it, with two accounts, a link and
    four audit records; returns the records as written."""
    md = old_tables(version)
    t = md.tables
    index = BlindIndex(KEY)
    events = old_events(version)
    engine = _engine(url)
    with engine.begin() as conn:
        md.create_all(conn)
        settings = {
            "schema_version": str(version),
            "blind_index_key_id": index.key_id,
            "name_rules": str(NAME_RULES_VERSION),
        }
        conn.execute(t["sso_meta"].insert(), [{"name": k, "value": v} for k, v in settings.items()])
        conn.execute(t["organizations"].insert(), [{"org_id": "sch1", "name": "Школа № 1"}])
        key = name_key(normalize_name("Смирнова"), normalize_name("Мария"), 19840312)
        person = {"last_name": "Смирнова", "first_name": "Мария", "middle_name": None}
        conn.execute(
            t["accounts"].insert(),
            [
                {
                    **person,
                    "account_id": f"a{i}",
                    "org_id": "sch1",
                    "login": f"m.s{i}",
                    "roles": "teacher",
                    "birth_date": 19840312,
                    "name_key": key,
                    "snils_hash": index.snils(SNILS) if i == 0 else None,
                    "passport_hash": None,
                    "status": "active",
                }
                for i in range(2)
            ],
        )
        link = {"issuer": ISSUER, "subject": "sub-1", "account_id": "a0", "method": "snils"}
        conn.execute(t["links"].insert(), [{**link, "created_at": T0, "created_by": "web"}])
        rows = []
        for e in events:
            row: dict[str, Any] = {"at": e.at, "action": e.action.value, "actor": e.actor}
            row.update(account_id=e.account_id, detail=e.detail)
            if version >= 2:
                row.update(event_id=e.event_id, chain_hash=e.chain_hash)
            rows.append(row)
        conn.execute(t["audit"].insert(), rows)
    engine.dispose()
    return events


# -- tests ---------------------------------------------------------------------------------


def test_the_revisions_are_one_line_to_the_newest() -> None:
    script = ScriptDirectory(sql_migrate._script_location())
    assert script.get_current_head() == SCHEMA_REVISION
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert chain == ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]
    legacy = [sql_migrate.LEGACY_REVISIONS[v] for v in range(1, SCHEMA_VERSION + 1)]
    assert chain[:SCHEMA_VERSION] == legacy


def test_a_new_database_is_made_at_the_newest_revision(db_url: str) -> None:
    store = open_store(db_url, KEY)
    store.close()
    assert schema_diff(db_url) == []
    revision, version, heads = stored(db_url)
    postgres = db_url.startswith("postgresql")
    assert (revision, version, heads) == (SCHEMA_REVISION, str(SCHEMA_VERSION), 256 * postgres)
    # no application table is touched, and opening again runs nothing
    open_store(db_url, KEY).close()
    assert stored(db_url)[0] == SCHEMA_REVISION


@pytest.mark.parametrize("version", [1, 2])
def test_a_database_of_an_older_release_is_upgraded_intact(db_url: str, version: int) -> None:
    old = make_old_database(db_url, version)
    engine = _engine(db_url)
    with engine.connect() as conn:
        before = sql_migrate.read_state(conn)
    engine.dispose()
    assert (before.revision, before.version, before.current) == (None, version, False)
    assert before.stamp == sql_migrate.LEGACY_REVISIONS[version]

    store = open_store(db_url, KEY)
    try:
        account = store.get_account("a0")
        assert account is not None
        assert (account.last_name, account.login) == ("Смирнова", "m.s0")
        assert account.roles == ("teacher",)
        assert store.find_by_login("sch1", "m.s1") is not None
        assert [a.account_id for a in store.linked_accounts(ISSUER, "sub-1")] == ["a0"]
        events = store.events()
        assert [(e.account_id, e.at) for e in events] == [(e.account_id, e.at) for e in old]
        assert "112-233-445" not in (events[1].detail or "")  # redacted when chained
        if version == 2:
            assert events == old  # not one hash rewritten
        report = verify_log(store)
        assert (report.ok, report.checked) == (True, 4)
        store.record(AuditEvent(AuditAction.LOGIN, T0 + timedelta(days=1), "web", account_id="a0"))
        assert verify_log(store).ok
        assert store.events()[-1].event_id > 4  # type: ignore[operator]
    finally:
        store.close()
    assert schema_diff(db_url) == []
    assert stored(db_url)[:2] == (SCHEMA_REVISION, str(SCHEMA_VERSION))


def test_a_key_mismatch_is_refused_before_anything_changes(sqlite_url: str) -> None:
    make_old_database(sqlite_url, 1)
    with pytest.raises(StoreError) as exc:
        open_store(sqlite_url, bytes(32))
    assert exc.value.code == "store.key_mismatch"
    engine = _engine(sqlite_url)
    with engine.connect() as conn:
        assert sql_migrate.read_state(conn).revision is None
    engine.dispose()


def test_a_newer_release_that_only_added_is_still_opened(sqlite_url: str) -> None:
    open_store(sqlite_url, KEY).close()
    engine = _engine(sqlite_url)
    with engine.begin() as conn:  # a newer release's expand revision: schema_version kept
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '9001'")
        conn.exec_driver_sql("ALTER TABLE accounts ADD COLUMN nickname TEXT")
    open_store(sqlite_url, KEY).close()
    with engine.begin() as conn:  # ... and its contract revision
        conn.exec_driver_sql("UPDATE sso_meta SET value = '4' WHERE name = 'schema_version'")
    engine.dispose()
    with pytest.raises(StoreError) as exc:
        open_store(sqlite_url, KEY)
    assert exc.value.code == "store.schema_too_new"


def test_instances_opening_a_new_database_at_once_make_it_once(
    postgres_schema_url: str,
) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        try:
            start.wait()
            open_store(postgres_schema_url, KEY).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = _engine(postgres_schema_url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text(f"SELECT count(*) FROM {VERSION_TABLE}")) == 1
    engine.dispose()
    assert stored(postgres_schema_url) == (SCHEMA_REVISION, str(SCHEMA_VERSION), 256)


def test_the_offline_script_makes_the_same_database(tmp_path: Path, db_url: str) -> None:
    dialect = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    script = sql_migrate.schema_sql(dialect)
    assert "CREATE TABLE audit_heads" in script
    engine = _engine(db_url)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if dialect == "sqlite":
            raw.executescript(script)  # type: ignore[union-attr]
        else:
            raw.execute(script)  # type: ignore[union-attr]
            raw.commit()  # type: ignore[union-attr]
    engine.dispose()
    assert schema_diff(db_url) == []
    assert stored(db_url) == (SCHEMA_REVISION, str(SCHEMA_VERSION), 256 * (dialect != "sqlite"))
    open_store(db_url, KEY).close()  # taken as it is


def test_db_current_and_upgrade_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    make_old_database(url, 2)
    (tmp_path / "old.db.key").write_text(KEY.hex())
    (tmp_path / "old.db.key").chmod(0o600)
    runner = CliRunner()

    shown = runner.invoke(main, ["db", "current", "--db", url, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == {
        "revision": None,
        "schema_version": 2,
        "head": SCHEMA_REVISION,
        "upgrade_pending": True,
    }
    assert stored(url)[0] is None  # looking changed nothing

    done = runner.invoke(main, ["db", "upgrade", "--db", url])
    assert done.exit_code == 0, done.output
    assert f"to {SCHEMA_REVISION}" in done.output
    shown = runner.invoke(main, ["db", "current", "--db", url])
    assert shown.exit_code == 0, shown.output
    assert f"revision {SCHEMA_REVISION} (newest), schema version {SCHEMA_VERSION}" in shown.output

    missing = runner.invoke(main, ["db", "current", "--db", f"sqlite:///{tmp_path / 'no.db'}"])
    assert missing.exit_code != 0
    assert "store.not_found" in missing.output

    offline = runner.invoke(main, ["db", "upgrade", "--sql", "--db", "postgresql://x@h/db"])
    assert offline.exit_code == 0, offline.output
    assert "ALTER TABLE audit ALTER COLUMN event_id TYPE BIGINT" in offline.output
