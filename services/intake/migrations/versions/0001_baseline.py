"""baseline: the schema created from the models before migrations existed

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-05 06:08:07.504163
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('intake_idempotency',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('body_hash', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('intake_request',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=False),
    sa.Column('needs', sa.JSON(), nullable=False),
    sa.Column('jobs', sa.JSON(), nullable=False),
    sa.Column('naf', sa.String(length=7), nullable=True),
    sa.Column('siret', sa.String(length=14), nullable=True),
    sa.Column('postal_code', sa.String(length=5), nullable=True),
    sa.Column('commune_insee', sa.String(length=5), nullable=True),
    sa.Column('commune_name', sa.String(length=120), nullable=True),
    sa.Column('departement', sa.String(length=3), nullable=True),
    sa.Column('academie', sa.String(length=80), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('radius_km', sa.Integer(), nullable=True),
    sa.Column('company_name', sa.String(length=200), nullable=False),
    sa.Column('contact_name', sa.String(length=120), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('contact_phone', sa.String(length=30), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('places', sa.Integer(), nullable=True),
    sa.Column('period', sa.String(length=200), nullable=True),
    sa.Column('preferred_uai', sa.String(length=8), nullable=True),
    sa.Column('first_routed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erasure_reason', sa.String(length=20), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intake_request', schema=None) as batch_op:
        batch_op.create_index('ix_intake_request_created', ['created_at'], unique=False)
        batch_op.create_index('ix_intake_request_email_created', ['contact_email', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_request_token'), ['token'], unique=True)

    op.create_table('intake_timeline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=True),
    sa.Column('assignment_id', sa.String(length=36), nullable=True),
    sa.Column('assignment_status', sa.String(length=20), nullable=True),
    sa.Column('lycees', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intake_timeline', schema=None) as batch_op:
        batch_op.create_index('ix_intake_timeline_request', ['request_id', 'at'], unique=False)

    op.create_table('outbox_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('stream', sa.String(length=120), nullable=False),
    sa.Column('event_type', sa.String(length=60), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=32), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_event_event_id'), ['event_id'], unique=True)
        batch_op.create_index('ix_outbox_unpublished', ['published_at', 'id'], unique=False)

    op.create_table('processed_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consumer_group', sa.String(length=60), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('stream', sa.String(length=120), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('consumer_group', 'event_id', name='uq_processed_event')
    )
    with op.batch_alter_table('processed_event', schema=None) as batch_op:
        batch_op.create_index('ix_processed_event_at', ['processed_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('processed_event', schema=None) as batch_op:
        batch_op.drop_index('ix_processed_event_at')

    op.drop_table('processed_event')
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_unpublished')
        batch_op.drop_index(batch_op.f('ix_outbox_event_event_id'))

    op.drop_table('outbox_event')
    with op.batch_alter_table('intake_timeline', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_timeline_request')

    op.drop_table('intake_timeline')
    with op.batch_alter_table('intake_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_request_token'))
        batch_op.drop_index('ix_intake_request_email_created')
        batch_op.drop_index('ix_intake_request_created')

    op.drop_table('intake_request')
    op.drop_table('intake_idempotency')
