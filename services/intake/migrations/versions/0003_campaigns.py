"""Invitation campaigns (issue 20): campaigns, their imported contacts, one invitation row per contact
(shared.platform.mailing) and the keyed hashes of unsubscribed addresses.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 08:29:48.174269
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('intake_campaign',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('intake_campaign_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.String(length=40), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=True),
    sa.Column('company_name', sa.String(length=200), nullable=True),
    sa.Column('contact_name', sa.String(length=120), nullable=True),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('postal_code', sa.String(length=5), nullable=True),
    sa.Column('commune_insee', sa.String(length=5), nullable=True),
    sa.Column('commune_name', sa.String(length=120), nullable=True),
    sa.Column('naf', sa.String(length=7), nullable=True),
    sa.Column('jobs', sa.JSON(), nullable=False),
    sa.Column('departement', sa.String(length=3), nullable=True),
    sa.Column('academie', sa.String(length=80), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('request_id', sa.String(length=36), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erasure_reason', sa.String(length=20), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('contact_email', name='uq_intake_campaign_contact_email'),
    sa.UniqueConstraint('siret', name='uq_intake_campaign_contact_siret')
    )
    with op.batch_alter_table('intake_campaign_contact', schema=None) as batch_op:
        batch_op.create_index('ix_intake_campaign_contact_campaign', ['campaign_id'], unique=False)

    op.create_table('intake_campaign_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailing', sa.String(length=40), nullable=False),
    sa.Column('to_email', sa.String(length=320), nullable=True),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=80), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('contact_id', name='uq_intake_campaign_invitation_contact'),
    sa.UniqueConstraint('message_id', name='uq_intake_campaign_invitation_message_id')
    )
    with op.batch_alter_table('intake_campaign_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_intake_campaign_invitation_due', ['mailing', 'status', 'next_attempt_at'], unique=False)

    op.create_table('intake_campaign_unsubscribed',
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('address_hash')
    )


def downgrade() -> None:
    op.drop_table('intake_campaign_unsubscribed')
    with op.batch_alter_table('intake_campaign_invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_campaign_invitation_due')

    op.drop_table('intake_campaign_invitation')
    with op.batch_alter_table('intake_campaign_contact', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_campaign_contact_campaign')

    op.drop_table('intake_campaign_contact')
    op.drop_table('intake_campaign')
