"""Schema 1: settings, organisations, accounts, links and the (unchained) audit trail.

The tables as the releases at ``schema_version`` 1 created them; a database they made
is recognised as this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

HASH_BYTES = 16  # keyed hashes of SNILS and passport numbers (sso_bridge.matching.keys)


def upgrade() -> None:
    meta = op.create_table(
        "sso_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "organizations",
        sa.Column("org_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("org_id", sa.String(128), sa.ForeignKey("organizations.org_id"), nullable=False),
        sa.Column("login", sa.Text),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("last_name", sa.Text, nullable=False),
        sa.Column("first_name", sa.Text, nullable=False),
        sa.Column("middle_name", sa.Text),
        sa.Column("birth_date", sa.Integer),
        sa.Column("name_key", sa.BigInteger),
        sa.Column("snils_hash", sa.LargeBinary(HASH_BYTES)),
        sa.Column("passport_hash", sa.LargeBinary(HASH_BYTES)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.CheckConstraint("status IN ('active', 'blocked')", name="ck_accounts_status"),
    )
    op.create_index("ix_accounts_name_key", "accounts", ["name_key"])
    op.create_index("ix_accounts_snils", "accounts", ["snils_hash"])
    op.create_index("ix_accounts_passport", "accounts", ["passport_hash"])
    op.create_index("ix_accounts_org", "accounts", ["org_id"])
    op.create_table(
        "links",
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
    )
    op.create_index("ix_links_subject", "links", ["issuer", "subject"])
    op.create_table(
        "audit",
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
    )
    op.bulk_insert(meta, [{"name": "schema_version", "value": "1"}])


def downgrade() -> None:
    for table in ("audit", "links", "accounts", "organizations", "sso_meta"):
        op.drop_table(table)
