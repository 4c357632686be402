"""baseline: the schema created from the models before migrations existed

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-05 06:08:08.606923
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalog_academie_fallback',
    sa.Column('academie', sa.String(length=80), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.PrimaryKeyConstraint('academie')
    )
    op.create_table('catalog_commune',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('insee', sa.String(length=5), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('postal_code', sa.String(length=5), nullable=False),
    sa.Column('departement', sa.String(length=3), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalog_commune', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_commune_insee'), ['insee'], unique=False)

    op.create_table('catalog_formation',
    sa.Column('cfd', sa.String(length=8), nullable=False),
    sa.Column('diploma', sa.String(), nullable=False),
    sa.Column('diploma_label', sa.String(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('label_long', sa.String(), nullable=False),
    sa.Column('secteur_cpc', sa.String(), nullable=False),
    sa.Column('groupe_specialite', sa.String(), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('successor_cfds', sa.String(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('cfd')
    )
    op.create_table('catalog_formation_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_code', sa.String(length=8), nullable=False),
    sa.Column('group_label', sa.String(), nullable=False),
    sa.Column('cfd', sa.String(length=8), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalog_formation_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_formation_group_group_code'), ['group_code'], unique=False)

    op.create_table('catalog_formation_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cfd', sa.String(length=8), nullable=False),
    sa.Column('rome', sa.String(length=5), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalog_formation_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_formation_job_cfd'), ['cfd'], unique=False)

    op.create_table('catalog_formation_keyword',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cfd', sa.String(length=8), nullable=False),
    sa.Column('keyword', sa.String(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalog_formation_keyword', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_formation_keyword_cfd'), ['cfd'], unique=False)

    op.create_table('catalog_insertion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('millesime', sa.String(length=9), nullable=False),
    sa.Column('population', sa.String(length=12), nullable=False),
    sa.Column('employment_rate_6m', sa.Float(), nullable=True),
    sa.Column('expected_employment_rate_6m', sa.Float(), nullable=True),
    sa.Column('added_value', sa.Float(), nullable=True),
    sa.Column('further_studies_rate', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalog_insertion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_insertion_uai'), ['uai'], unique=False)

    op.create_table('catalog_job',
    sa.Column('rome', sa.String(length=5), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('domain_code', sa.String(), nullable=False),
    sa.Column('domain', sa.String(), nullable=False),
    sa.Column('grand_domain_code', sa.String(), nullable=False),
    sa.Column('grand_domain', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('rome')
    )
    op.create_table('catalog_job_title',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('rome', sa.String(length=5), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalog_job_title', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_job_title_rome'), ['rome'], unique=False)

    op.create_table('catalog_lycee',
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('nature_code', sa.String(), nullable=False),
    sa.Column('type_court', sa.String(), nullable=False),
    sa.Column('secteur', sa.String(), nullable=False),
    sa.Column('contrat_prive', sa.String(), nullable=False),
    sa.Column('ministere', sa.String(), nullable=False),
    sa.Column('address', sa.String(), nullable=False),
    sa.Column('postal_code', sa.String(), nullable=False),
    sa.Column('commune_insee', sa.String(), nullable=False),
    sa.Column('commune', sa.String(), nullable=False),
    sa.Column('departement_code', sa.String(), nullable=False),
    sa.Column('departement', sa.String(), nullable=False),
    sa.Column('academie_code', sa.String(), nullable=False),
    sa.Column('academie', sa.String(), nullable=False),
    sa.Column('region_code', sa.String(), nullable=False),
    sa.Column('region', sa.String(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('voie_professionnelle', sa.Boolean(), nullable=False),
    sa.Column('apprentissage', sa.Boolean(), nullable=False),
    sa.Column('parent_uai', sa.String(length=8), nullable=True),
    sa.Column('rattachement', sa.String(), nullable=False),
    sa.Column('telephone', sa.String(), nullable=False),
    sa.Column('mail', sa.String(), nullable=False),
    sa.Column('web', sa.String(), nullable=False),
    sa.Column('fiche_onisep', sa.String(), nullable=False),
    sa.Column('formations_uai', sa.String(length=8), nullable=True),
    sa.Column('source_annuaire', sa.String(), nullable=False),
    sa.Column('private_hors_contrat', sa.Boolean(), nullable=False),
    sa.Column('bts_only', sa.Boolean(), nullable=False),
    sa.Column('vocational_core', sa.Boolean(), nullable=False),
    sa.Column('territory', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('uai')
    )
    op.create_table('catalog_lycee_settings',
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('pitch', sa.Text(), nullable=False),
    sa.Column('services', sa.String(), nullable=False),
    sa.Column('pfmp_periods', sa.Text(), nullable=False),
    sa.Column('monthly_capacity', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('uai')
    )
    op.create_table('catalog_magic_link',
    sa.Column('token_id', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('token_id')
    )
    with op.batch_alter_table('catalog_magic_link', schema=None) as batch_op:
        batch_op.create_index('ix_catalog_magic_link_email', ['email'], unique=False)

    op.create_table('catalog_meta',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('catalog_naf',
    sa.Column('code', sa.String(length=6), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('division', sa.String(length=2), nullable=False),
    sa.Column('division_label', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('catalog_naf_division_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('division', sa.String(length=2), nullable=False),
    sa.Column('rome', sa.String(length=5), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('catalog_naf_division_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_naf_division_job_division'), ['division'], unique=False)

    op.create_table('catalog_offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('cfd', sa.String(length=8), nullable=False),
    sa.Column('track', sa.String(length=16), nullable=False),
    sa.Column('last_seen_year', sa.Integer(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('sources', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uai', 'cfd', 'track', name='uq_catalog_offer')
    )
    with op.batch_alter_table('catalog_offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_offer_uai'), ['uai'], unique=False)

    op.create_table('catalog_rbe',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(), nullable=True),
    sa.Column('is_generic', sa.Boolean(), nullable=False),
    sa.Column('deputy_email', sa.String(length=254), nullable=True),
    sa.Column('absent_from', sa.Date(), nullable=True),
    sa.Column('absent_until', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email')
    )
    op.create_table('catalog_rbe_coverage',
    sa.Column('uai', sa.String(length=8), nullable=False),
    sa.Column('rbe_email', sa.String(length=254), nullable=False),
    sa.PrimaryKeyConstraint('uai')
    )
    with op.batch_alter_table('catalog_rbe_coverage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_rbe_coverage_rbe_email'), ['rbe_email'], unique=False)

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
    with op.batch_alter_table('catalog_rbe_coverage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_rbe_coverage_rbe_email'))

    op.drop_table('catalog_rbe_coverage')
    op.drop_table('catalog_rbe')
    with op.batch_alter_table('catalog_offer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_offer_uai'))

    op.drop_table('catalog_offer')
    with op.batch_alter_table('catalog_naf_division_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_naf_division_job_division'))

    op.drop_table('catalog_naf_division_job')
    op.drop_table('catalog_naf')
    op.drop_table('catalog_meta')
    with op.batch_alter_table('catalog_magic_link', schema=None) as batch_op:
        batch_op.drop_index('ix_catalog_magic_link_email')

    op.drop_table('catalog_magic_link')
    op.drop_table('catalog_lycee_settings')
    op.drop_table('catalog_lycee')
    with op.batch_alter_table('catalog_job_title', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_job_title_rome'))

    op.drop_table('catalog_job_title')
    op.drop_table('catalog_job')
    with op.batch_alter_table('catalog_insertion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_insertion_uai'))

    op.drop_table('catalog_insertion')
    with op.batch_alter_table('catalog_formation_keyword', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_formation_keyword_cfd'))

    op.drop_table('catalog_formation_keyword')
    with op.batch_alter_table('catalog_formation_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_formation_job_cfd'))

    op.drop_table('catalog_formation_job')
    with op.batch_alter_table('catalog_formation_group', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_formation_group_group_code'))

    op.drop_table('catalog_formation_group')
    op.drop_table('catalog_formation')
    with op.batch_alter_table('catalog_commune', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_commune_insee'))

    op.drop_table('catalog_commune')
    op.drop_table('catalog_academie_fallback')
