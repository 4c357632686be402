"""outcomes (issue 21): what came out of a taken request, from the notifier's OutcomeRecorded

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 12:15:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_outcome",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("respondent", sa.String(length=10), nullable=False),
        sa.Column("respondent_label", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("asked_round", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("intake_outcome", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_outcome_request_id"), ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("intake_outcome", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_outcome_request_id"))

    op.drop_table("intake_outcome")
