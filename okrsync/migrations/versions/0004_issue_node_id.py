"""issue node ids

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10

GitHub keeps an issue's `node_id` when the issue is transferred to another repo, while its
key (`repo#number`) changes: the stored node id is how the old copy of a moved issue is found
and removed (issue 15). Rows stored before this revision have none until they are fetched again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_id", sa.String(), nullable=True))
        batch_op.create_index("ix_issue_node_id", ["source", "node_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_index("ix_issue_node_id")
        batch_op.drop_column("node_id")
