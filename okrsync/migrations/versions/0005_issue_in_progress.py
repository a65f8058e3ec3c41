"""issue in progress

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Partial credit (`in_progress_weight`, issue 14) counts in-progress work as a share done: the
roll-up groups issues by this flag in SQL, as it does by status. Rows stored before this
revision read as not in progress until they are fetched again, which is what a user who has
not set a weight sees anyway (the weight defaults to 0).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_progress", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_column("in_progress")
