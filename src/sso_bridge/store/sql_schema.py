"""The schema of the SQL store: accounts, organisations, links, the audit trail and the
store's own settings (``sso_meta``). :mod:`.sql_migrate` creates and upgrades it."""

from __future__ import annotations

import sqlalchemy as sa

from sso_bridge.matching.keys import HASH_BYTES

__all__ = [
    "SCHEMA_VERSION",
    "accounts",
    "audit",
    "links",
    "meta_table",
    "metadata",
    "organizations",
]

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
