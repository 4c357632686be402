"""baseline: the schema created from the models before migrations existed

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-05 06:08:08.161377
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notifier_action_use',
    sa.Column('nonce', sa.String(length=40), nullable=False),
    sa.Column('participant_id', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=12), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('nonce')
    )
    op.create_table('notifier_inbound',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('rcpt', sa.String(length=320), nullable=False),
    sa.Column('mail_from', sa.String(length=320), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('thread_id', sa.String(length=32), nullable=True),
    sa.Column('participant_id', sa.String(length=32), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notifier_inbound', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifier_inbound_thread_id'), ['thread_id'], unique=False)

    op.create_table('notifier_outbound',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.String(length=32), nullable=False),
    sa.Column('entry_id', sa.String(length=32), nullable=False),
    sa.Column('participant_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('to_email', sa.String(length=320), nullable=False),
    sa.Column('envelope_from', sa.String(length=320), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_id', 'participant_id', name='uq_outbound_copy'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('notifier_outbound', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifier_outbound_thread_id'), ['thread_id'], unique=False)
        batch_op.create_index('ix_outbound_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('notifier_thread',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('token', sa.String(length=16), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('root_message_id', sa.String(length=200), nullable=False),
    sa.Column('company_name', sa.String(length=300), nullable=False),
    sa.Column('needs', sa.String(length=300), nullable=False),
    sa.Column('academie', sa.String(length=100), nullable=True),
    sa.Column('fallback_email', sa.String(length=320), nullable=True),
    sa.Column('request_summary', sa.Text(), nullable=False),
    sa.Column('routed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_answer_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('gave_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erased', sa.Boolean(), nullable=False),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id'),
    sa.UniqueConstraint('token')
    )
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

    op.create_table('notifier_message',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('thread_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('author_participant_id', sa.String(length=32), nullable=True),
    sa.Column('author_role', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('inbound_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['notifier_thread.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notifier_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifier_message_thread_id'), ['thread_id'], unique=False)

    op.create_table('notifier_participant',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('thread_id', sa.String(length=32), nullable=False),
    sa.Column('token', sa.String(length=16), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.Column('assignment_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failing', sa.Boolean(), nullable=False),
    sa.Column('lead_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['notifier_thread.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('thread_id', 'token', name='uq_participant_token')
    )
    with op.batch_alter_table('notifier_participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifier_participant_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifier_participant_thread_id'), ['thread_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('notifier_participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifier_participant_thread_id'))
        batch_op.drop_index(batch_op.f('ix_notifier_participant_assignment_id'))

    op.drop_table('notifier_participant')
    with op.batch_alter_table('notifier_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifier_message_thread_id'))

    op.drop_table('notifier_message')
    with op.batch_alter_table('processed_event', schema=None) as batch_op:
        batch_op.drop_index('ix_processed_event_at')

    op.drop_table('processed_event')
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_unpublished')
        batch_op.drop_index(batch_op.f('ix_outbox_event_event_id'))

    op.drop_table('outbox_event')
    op.drop_table('notifier_thread')
    with op.batch_alter_table('notifier_outbound', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_due')
        batch_op.drop_index(batch_op.f('ix_notifier_outbound_thread_id'))

    op.drop_table('notifier_outbound')
    with op.batch_alter_table('notifier_inbound', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifier_inbound_thread_id'))

    op.drop_table('notifier_inbound')
    op.drop_table('notifier_action_use')
