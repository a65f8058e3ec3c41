"""initial

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Timestamps are plain DateTime columns holding UTC; okrsync.store.UTCDateTime makes them aware.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issue",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("container", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("is_pull_request", sa.Boolean(), nullable=False),
        sa.Column("is_subtask", sa.Boolean(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("kr_ids", sa.JSON(), nullable=False),
        sa.Column("has_kr_label", sa.Boolean(), nullable=False),
        sa.Column("assignee", sa.String(), nullable=True),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source", "key"),
    )
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issue_container"), ["container"], unique=False)
        batch_op.create_index(batch_op.f("ix_issue_has_kr_label"), ["has_kr_label"], unique=False)

    op.create_table(
        "issue_milestone",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("issue_key", sa.String(), nullable=False),
        sa.Column("milestone_key", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("source", "issue_key", "milestone_key"),
    )
    with op.batch_alter_table("issue_milestone", schema=None) as batch_op:
        batch_op.create_index("ix_issue_milestone_milestone", ["source", "milestone_key"], unique=False)

    op.create_table(
        "kr_value",
        sa.Column("kr_id", sa.String(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("measured_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kr_id"),
    )
    op.create_table(
        "milestone",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("container", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("open_issues", sa.Integer(), nullable=True),
        sa.Column("closed_issues", sa.Integer(), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("source", "key"),
    )
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_milestone_container"), ["container"], unique=False)

    op.create_table(
        "source_state",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("last_attempt", sa.DateTime(), nullable=True),
        sa.Column("last_success", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("source_state")
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_milestone_container"))

    op.drop_table("milestone")
    op.drop_table("kr_value")
    with op.batch_alter_table("issue_milestone", schema=None) as batch_op:
        batch_op.drop_index("ix_issue_milestone_milestone")

    op.drop_table("issue_milestone")
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_has_kr_label"))
        batch_op.drop_index(batch_op.f("ix_issue_container"))

    op.drop_table("issue")
