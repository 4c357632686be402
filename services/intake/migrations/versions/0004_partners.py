"""Partners (issue 20): the partner registry (name, origins allowed to frame the form and to call the
API from a browser) and the partners' API keys (prefix in clear, HMAC of the key, scopes).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 08:26:42.347506
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('intake_partner',
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('origins', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('slug')
    )
    op.create_table('intake_partner_key',
    sa.Column('prefix', sa.String(length=20), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=False),
    sa.Column('scopes', sa.String(length=60), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('prefix'),
    sa.UniqueConstraint('key_hash')
    )
    with op.batch_alter_table('intake_partner_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_partner_key_partner'), ['partner'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('intake_partner_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_partner_key_partner'))

    op.drop_table('intake_partner_key')
    op.drop_table('intake_partner')
