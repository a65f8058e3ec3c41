"""write-back targets and health

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Write-back (SPEC §10, issue 11) remembers, per source, what it last wrote into the tracker
(`writeback_target`: the remote id and the hash of the rendering, so an unchanged rendering
costs no request) and how its last attempt went (`writeback_state`, shown by `status`).
Timestamps are plain DateTime columns holding UTC; okrsync.store.UTCDateTime makes them aware.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "writeback_target",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("remote_id", sa.String(), nullable=True),
        sa.Column("content_hash", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source", "target"),
    )
    op.create_table(
        "writeback_state",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("last_attempt", sa.DateTime(), nullable=True),
        sa.Column("last_success", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("writeback_state")
    op.drop_table("writeback_target")
