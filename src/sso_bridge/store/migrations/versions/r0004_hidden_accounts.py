"""The accounts a person asked not to be offered at login (``hidden_accounts``).

Only adds a table: ``schema_version`` stays 3, so a release before this one still opens
the database (and offers every account).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _missing(name: str) -> bool:
    # a release that created its tables directly on opening may have made it already
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if not _missing("hidden_accounts"):
        return
    op.create_table(
        "hidden_accounts",
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


def downgrade() -> None:
    op.drop_table("hidden_accounts")
