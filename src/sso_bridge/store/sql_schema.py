"""The schema of the SQL store: accounts, organisations, links, the audit trail and the
store's own settings (``sso_meta``), as the newest revision leaves it. The revisions in
:mod:`.migrations` create and upgrade it; :mod:`.sql_migrate` runs them."""

from __future__ import annotations

import sqlalchemy as sa

from sso_bridge.matching.keys import HASH_BYTES

__all__ = [
    "SCHEMA_REVISION",
    "SCHEMA_VERSION",
    "VERSION_TABLE",
    "accounts",
    "audit",
    "audit_heads",
    "audit_roots",
    "hidden_accounts",
    "links",
    "meta_table",
    "metadata",
    "organizations",
]

SCHEMA_VERSION = 3
"""1: accounts, links, audit. 2: audit records chained (user_agent, chain_hash), login index.
3: several audit chains (``chain``, 64-bit ids), their heads and the roots over them.

Kept in ``sso_meta`` as ``schema_version``. A revision that only adds (expand) leaves it
alone, so that the release before it still opens the database; one that removes or
changes what that release uses (contract) raises it. Revision 0004 (``hidden_accounts``,
the accounts a person asked not to be offered) only adds, so the version stays 3; so does
0005 (the audit records' ``commitments``), 0006 (the event delivery tables) and 0007
(``link_requests``, the link requests queued for an administrator)."""

SCHEMA_REVISION = "0007"
"""The newest revision in :mod:`.migrations` (a test checks that they agree)."""

VERSION_TABLE = "sso_alembic_version"
"""Where Alembic keeps the database's revision; not ``alembic_version``, which the
application sharing the database may use for its own tables."""

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

hidden_accounts = sa.Table(
    "hidden_accounts",
    metadata,
    # the accounts a person asked not to be offered at login (docs/broker.md)
    sa.Column("issuer", sa.String(512), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column(
        "account_id",
        sa.String(128),
        sa.ForeignKey("accounts.account_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("issuer", "subject", "account_id", name="pk_hidden_accounts"),
)

# 64-bit on PostgreSQL; on SQLite an INTEGER primary key is the 64-bit rowid already
_RECORD_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("event_id", _RECORD_ID, sa.Identity(), primary_key=True),
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
    # the chain the record belongs to (sso_bridge.store.sql_audit); 0 on SQLite
    sa.Column("chain", sa.Integer, nullable=False, server_default="0"),
    # commitments to the personal fields, which the chain covers (sso_bridge.audit.commit);
    # NULL for records chained over their values
    sa.Column("commitments", sa.Text),
    sa.Index("ix_audit_account", "account_id", "event_id"),
    sa.Index("ix_audit_chain", "chain", "event_id"),
)

audit_heads = sa.Table(
    "audit_heads",
    metadata,
    # PostgreSQL only: one row per chain, locked by each append to that chain
    sa.Column("chain", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("records", sa.BigInteger, nullable=False),
    sa.Column("head_id", sa.BigInteger),
    sa.Column("hash", sa.String(64), nullable=False),
)

audit_roots = sa.Table(
    "audit_roots",
    metadata,
    sa.Column("root_id", _RECORD_ID, primary_key=True, autoincrement=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    # JSON [[chain, head record id], ...] (sso_bridge.audit.roots)
    sa.Column("heads", sa.Text, nullable=False),
    sa.Column("merkle", sa.String(64), nullable=False),
    sa.Column("root_hash", sa.String(64), nullable=False),
)
