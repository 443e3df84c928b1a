"""Events out: each sink's cursor and lease (``event_sinks``) and the dead letters
(``event_dead_letters``), see docs/events.md.

Only adds tables: ``schema_version`` stays 3. :class:`sso_bridge.store.sql_events.SqlEventStore`
creates the same tables on first use when the database has not been upgraded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_TIME = sa.DateTime(timezone=True)


def _missing(name: str) -> bool:
    return context.is_offline_mode() or not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if _missing("event_sinks"):
        op.create_table(
            "event_sinks",
            sa.Column("sink", sa.String(64), primary_key=True),
            sa.Column("cursor", sa.BigInteger, nullable=False),
            sa.Column("lease_owner", sa.String(128)),
            sa.Column("lease_expires_at", _TIME),
            sa.Column("failing_id", sa.BigInteger),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("first_failed_at", _TIME),
            sa.Column("next_try_at", _TIME),
            sa.Column("last_status", sa.Integer),
            sa.Column("last_error", sa.String(200)),
        )
    if _missing("event_dead_letters"):
        op.create_table(
            "event_dead_letters",
            sa.Column(
                "letter_id",
                sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                primary_key=True,
            ),
            sa.Column("sink", sa.String(64), nullable=False),
            sa.Column("event_id", sa.String(64), nullable=False),
            sa.Column("kind", sa.String(64), nullable=False),
            sa.Column("body", sa.Text, nullable=False),
            sa.Column("reason", sa.String(200), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("last_status", sa.Integer),
            sa.Column("created_at", _TIME, nullable=False),
            sa.Column("account_id", sa.String(128)),
            sa.Column("issuer", sa.String(512)),
            sa.Column("subject", sa.String(512)),
            sa.Column("retry", sa.Boolean, nullable=False, server_default=sa.false()),
        )
        op.create_index("ix_event_dead_letters_sink", "event_dead_letters", ["sink", "letter_id"])
        op.create_index("ix_event_dead_letters_account", "event_dead_letters", ["account_id"])
        op.create_index(
            "ix_event_dead_letters_subject", "event_dead_letters", ["issuer", "subject"]
        )


def downgrade() -> None:
    op.drop_table("event_dead_letters")
    op.drop_table("event_sinks")
