"""Schema 2: audit records chained (``user_agent``, ``chain_hash``), the login index.

Records written before the chain get their stored form and are chained in id order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from sso_bridge.store.sql_audit_upgrade import audit_at_schema_2, chain_all

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_accounts_login", "accounts", ["org_id", "login"])
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("user_agent", sa.Text))
        batch.add_column(sa.Column("chain_hash", sa.String(64)))
    op.create_index("ix_audit_account", "audit", ["account_id", "event_id"])
    # offline the script is for a new database only (sso-bridge db upgrade --sql): no records
    if not context.is_offline_mode():
        chain_all(op.get_bind(), audit_at_schema_2())
    op.execute("UPDATE sso_meta SET value = '2' WHERE name = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("schema 2 cannot be undone: restore the backup taken before")
