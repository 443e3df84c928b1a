"""Link requests queued for an administrator (``link_requests``).

Only adds a table: ``schema_version`` stays 3, so a release before this one still opens
the database (and queues nothing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def _missing(name: str) -> bool:
    # the store creates the table on first use too, so it may be there already
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if not _missing("link_requests"):
        return
    op.create_table(
        "link_requests",
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column(
            "account_id",
            sa.String(128),
            sa.ForeignKey("accounts.account_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("issuer", sa.String(512), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("differing", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.PrimaryKeyConstraint("request_id", name="pk_link_requests"),
        sa.UniqueConstraint("account_id", "issuer", "subject", name="uq_link_requests_identity"),
    )
    op.create_index("ix_link_requests_subject", "link_requests", ["issuer", "subject"])
    op.create_index("ix_link_requests_created", "link_requests", ["created_at"])


def downgrade() -> None:
    op.drop_table("link_requests")
