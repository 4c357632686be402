"""Rich profile written by the RBE (issue 22): PFMP periods per class, events open to companies, partner
companies with consent, a logo or photo; platforms, labels and networks on the lycée settings (existing
rows get empty values).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 08:26:07.763628
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalog_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalog_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_event_starts_on'), ['starts_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_event_uai'), ['uai'], unique=False)

    op.create_table('catalog_lycee_image',
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('mime', sa.String(length=20), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=16), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('uai')
    )
    op.create_table('catalog_partner',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalog_partner', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_partner_uai'), ['uai'], unique=False)

    op.create_table('catalog_pfmp_period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('classe', sa.String(length=16), nullable=False),
    sa.Column('cfd', sa.String(length=8), nullable=True),
    sa.Column('dates', sa.String(length=200), nullable=False),
    sa.Column('ranges', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalog_pfmp_period', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_pfmp_period_uai'), ['uai'], unique=False)

    with op.batch_alter_table('catalog_lycee_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pitch_origin', sa.String(length=12), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('platforms', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('label_lycee_metiers', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('label_cmq', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('networks', sa.Text(), nullable=False, server_default=''))
    # The model has no server default: drop them so that autogenerate finds nothing.
    with op.batch_alter_table('catalog_lycee_settings', schema=None) as batch_op:
        for column in ('pitch_origin', 'platforms', 'label_lycee_metiers', 'label_cmq', 'networks'):
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('catalog_lycee_settings', schema=None) as batch_op:
        batch_op.drop_column('networks')
        batch_op.drop_column('label_cmq')
        batch_op.drop_column('label_lycee_metiers')
        batch_op.drop_column('platforms')
        batch_op.drop_column('pitch_origin')

    with op.batch_alter_table('catalog_pfmp_period', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_pfmp_period_uai'))

    op.drop_table('catalog_pfmp_period')
    with op.batch_alter_table('catalog_partner', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_partner_uai'))

    op.drop_table('catalog_partner')
    op.drop_table('catalog_lycee_image')
    with op.batch_alter_table('catalog_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_event_uai'))
        batch_op.drop_index(batch_op.f('ix_catalog_event_starts_on'))

    op.drop_table('catalog_event')
