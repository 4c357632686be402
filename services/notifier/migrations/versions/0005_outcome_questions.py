"""outcome questions (issue 21): « Qu'est-ce qui en est sorti ? » asked once per participant and round

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 12:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_outcome_question",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("thread_id", sa.String(length=32), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("respondent", sa.String(length=10), nullable=False),
        sa.Column("asked_round", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("thread_id", "participant_id", "asked_round", name="uq_outcome_question"),
    )
    with op.batch_alter_table("notifier_outcome_question", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifier_outcome_question_thread_id"), ["thread_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notifier_outcome_question", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifier_outcome_question_thread_id"))

    op.drop_table("notifier_outcome_question")
