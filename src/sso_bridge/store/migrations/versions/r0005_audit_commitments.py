"""Audit records chained over commitments to their personal fields (``commitments``).

Only adds a nullable column: the records already stored keep NULL there and stay chained
over their values (format 1), verified as before; new records carry their commitments
(format 2, docs/audit.md). ``schema_version`` stays 3, so a release before this one still
opens the database (its ``audit verify`` does not know format 2: verify with this one).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _missing_column() -> bool:
    if context.is_offline_mode():
        return True
    columns = sa.inspect(op.get_bind()).get_columns("audit")
    return all(column["name"] != "commitments" for column in columns)


def upgrade() -> None:
    if not _missing_column():
        return
    # a nullable column without a default: no table rewrite on either database
    op.add_column("audit", sa.Column("commitments", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("commitments")
