"""An académie's list may name the RBE's deputy: it waits with the naming until the RBE confirms (issue 22).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 17:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_rbe_nomination") as batch_op:
        batch_op.add_column(sa.Column("deputy_email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalog_rbe_nomination") as batch_op:
        batch_op.drop_column("deputy_email")
