"""baseline: the schema created from the models before migrations existed

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-05 06:08:07.822487
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('matcher_assignment',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('routing_id', sa.String(length=36), nullable=False),
    sa.Column('rbe_id', sa.String(length=254), nullable=False),
    sa.Column('rbe_email', sa.String(length=254), nullable=False),
    sa.Column('rbe_name', sa.String(length=200), nullable=True),
    sa.Column('is_generic_contact', sa.Boolean(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('uais', sa.String(length=400), nullable=False),
    sa.Column('lycees', sa.Text(), nullable=False),
    sa.Column('families', sa.String(length=400), nullable=False),
    sa.Column('distance_km', sa.Float(), nullable=True),
    sa.Column('formations', sa.Text(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id', 'rbe_id', name='uq_assignment_request_rbe')
    )
    with op.batch_alter_table('matcher_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_matcher_assignment_request_id'), ['request_id'], unique=False)

    op.create_table('matcher_monthly_load',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uai', 'month', name='uq_monthly_load')
    )
    with op.batch_alter_table('matcher_monthly_load', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_matcher_monthly_load_month'), ['month'], unique=False)

    op.create_table('matcher_request',
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('company_key', sa.String(length=254), nullable=True),
    sa.Column('needs', sa.String(length=200), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('academie', sa.String(length=80), nullable=True),
    sa.Column('original_request_id', sa.String(length=36), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('request_id')
    )
    with op.batch_alter_table('matcher_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_matcher_request_company_key'), ['company_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_matcher_request_submitted_at'), ['submitted_at'], unique=False)

    op.create_table('matcher_review_item',
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('academie', sa.String(length=80), nullable=True),
    sa.Column('fallback_email', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('request_id')
    )
    op.create_table('matcher_routing_decision',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('unroutable', sa.Boolean(), nullable=False),
    sa.Column('fallback_email', sa.String(length=254), nullable=True),
    sa.Column('radius_km', sa.Float(), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('candidates', sa.Text(), nullable=False),
    sa.Column('romes', sa.String(length=400), nullable=False),
    sa.Column('decision_ms', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('matcher_routing_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_matcher_routing_decision_request_id'), ['request_id'], unique=False)

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
    with op.batch_alter_table('matcher_routing_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matcher_routing_decision_request_id'))

    op.drop_table('matcher_routing_decision')
    op.drop_table('matcher_review_item')
    with op.batch_alter_table('matcher_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matcher_request_submitted_at'))
        batch_op.drop_index(batch_op.f('ix_matcher_request_company_key'))

    op.drop_table('matcher_request')
    with op.batch_alter_table('matcher_monthly_load', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matcher_monthly_load_month'))

    op.drop_table('matcher_monthly_load')
    with op.batch_alter_table('matcher_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matcher_assignment_request_id'))

    op.drop_table('matcher_assignment')
