"""Request source and pilot flag (issue 20): where each request came from, and whether its académie was
in the pilot. Rows from before are direct (by channel) and in the pilot (routing was everywhere).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 08:10:54.327152
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_kind', sa.String(length=12), nullable=False, server_default='form'))
        batch_op.add_column(sa.Column('source_partner', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('source_campaign', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('in_pilot', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute("UPDATE intake_request SET source_kind = 'api' WHERE channel = 'api'")
    # The model has no server default: drop it so that autogenerate finds nothing.
    with op.batch_alter_table('intake_request', schema=None) as batch_op:
        batch_op.alter_column('source_kind', server_default=None)
        batch_op.alter_column('in_pilot', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('intake_request', schema=None) as batch_op:
        batch_op.drop_column('in_pilot')
        batch_op.drop_column('source_campaign')
        batch_op.drop_column('source_partner')
        batch_op.drop_column('source_kind')

