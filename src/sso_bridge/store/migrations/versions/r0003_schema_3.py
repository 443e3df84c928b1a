"""Schema 3: several audit chains (``chain``), their heads, the roots over them, and on
PostgreSQL 64-bit record ids.

The single chain of schema 2 becomes chain 0, its hashes untouched; on PostgreSQL every
chain gets its head row, chain 0's at the old trail's last record.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op

from sso_bridge.store.sql_audit_upgrade import audit_at_schema_2, genesis_heads, split_chains

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# 64-bit on PostgreSQL; on SQLite an INTEGER primary key is the 64-bit rowid already
RECORD_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _head_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("chain", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("head_id", sa.BigInteger),
        sa.Column("hash", sa.String(64), nullable=False),
    ]


_SCHEMA_2 = sa.MetaData()
_AUDIT = audit_at_schema_2(_SCHEMA_2)
_HEADS = sa.Table("audit_heads", _SCHEMA_2, *_head_columns())


def _missing(name: str) -> bool:
    # releases before the revisions created every table they knew of on opening
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("chain", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_audit_chain", "audit", ["chain", "event_id"])
    if _missing("audit_heads"):
        op.create_table("audit_heads", *_head_columns())
    if _missing("audit_roots"):
        op.create_table(
            "audit_roots",
            sa.Column("root_id", RECORD_ID, primary_key=True, autoincrement=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("heads", sa.Text, nullable=False),
            sa.Column("merkle", sa.String(64), nullable=False),
            sa.Column("root_hash", sa.String(64), nullable=False),
        )
    if context.get_context().dialect.name == "postgresql":
        # an identity column's sequence follows its column's type
        op.alter_column("audit", "event_id", type_=sa.BigInteger, existing_type=sa.Integer)
        if context.is_offline_mode():
            op.bulk_insert(_HEADS, genesis_heads())
        else:
            split_chains(op.get_bind(), _AUDIT, _HEADS)
    op.execute("UPDATE sso_meta SET value = '3' WHERE name = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("schema 3 cannot be undone: restore the backup taken before")
