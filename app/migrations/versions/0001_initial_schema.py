"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 06:28:22.731317
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.String(length=18), nullable=True),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_subject_id'), ['subject_id'], unique=False)

    op.create_table('department',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('rulebook_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('loaded_by', sa.String(length=80), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('files_json', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('fingerprint')
    )
    op.create_table('run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('subjects', sa.Integer(), nullable=False),
    sa.Column('tier_changes', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('rulebook_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('triggered_by', sa.String(length=80), nullable=False),
    sa.Column('error', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('scheduler_lock',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=True),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    # APScheduler's job store (jobs survive restarts, so a missed night is caught up).
    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.Unicode(length=191), nullable=False),
    sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_apscheduler_jobs_next_run_time', 'apscheduler_jobs', ['next_run_time'])
    # begin_write() takes SQLite's write lock with a no-op update of this row.
    op.bulk_insert(sa.table("scheduler_lock", sa.column("name", sa.String)), [{"name": "~"}])
    op.create_table('standing_flag',
    sa.Column('subject_id', sa.String(length=18), nullable=False),
    sa.Column('flag_code', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('subject_id', 'flag_code')
    )
    with op.batch_alter_table('standing_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standing_flag_flag_code'), ['flag_code'], unique=False)

    op.create_table('standing_measure',
    sa.Column('subject_id', sa.String(length=18), nullable=False),
    sa.Column('measure_code', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('subject_id', 'measure_code')
    )
    with op.batch_alter_table('standing_measure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standing_measure_measure_code'), ['measure_code'],
                              unique=False)

    op.create_table('subject',
    sa.Column('subject_id', sa.String(length=18), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('district', sa.String(length=100), nullable=False),
    sa.Column('village', sa.String(length=100), nullable=False),
    sa.Column('legal_representative', sa.String(length=200), nullable=True),
    sa.Column('consent', sa.Boolean(), nullable=False),
    sa.Column('consent_changed_on', sa.Date(), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('subject_id')
    )
    with op.batch_alter_table('subject', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subject_district'), ['district'], unique=False)
        batch_op.create_index(batch_op.f('ix_subject_legal_representative'),
                              ['legal_representative'], unique=False)
        batch_op.create_index(batch_op.f('ix_subject_name'), ['name'], unique=False)

    op.create_table('tier_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.String(length=18), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('from_tier', sa.String(length=16), nullable=True),
    sa.Column('to_tier', sa.String(length=16), nullable=True),
    sa.Column('from_points', sa.Integer(), nullable=True),
    sa.Column('to_points', sa.Integer(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tier_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tier_change_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tier_change_subject_id'), ['subject_id'], unique=False)

    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('department_code', sa.String(), nullable=True),
    sa.Column('subject_id', sa.String(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], ),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.subject_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('list_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_code', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.String(length=18), nullable=False),
    sa.Column('department_code', sa.String(length=64), nullable=False),
    sa.Column('entered_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('decision_ref', sa.String(length=200), nullable=False),
    sa.Column('external_ref', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('removed_on', sa.Date(), nullable=True),
    sa.Column('removed_by', sa.String(length=80), nullable=True),
    sa.Column('removed_reason', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], ),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.subject_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('department_code', 'external_ref', name='uq_list_entry_external_ref')
    )
    with op.batch_alter_table('list_entry', schema=None) as batch_op:
        batch_op.create_index('ix_list_entry_subject', ['subject_id', 'list_code'], unique=False)
        batch_op.create_index('ix_list_entry_window', ['list_code', 'entered_on'], unique=False)

    op.create_table('record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.String(length=18), nullable=False),
    sa.Column('rule_code', sa.String(length=64), nullable=False),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('rulebook_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('department_code', sa.String(length=64), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('repairable_on', sa.Date(), nullable=True),
    sa.Column('base_points', sa.Integer(), nullable=False),
    sa.Column('factor', sa.Integer(), nullable=False, server_default='1'),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('external_ref', sa.String(length=200), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=80), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.String(length=80), nullable=True),
    sa.Column('void_reason', sa.String(), nullable=True),
    sa.Column('repaired_on', sa.Date(), nullable=True),
    sa.Column('repaired_by', sa.String(length=80), nullable=True),
    sa.Column('repair_evidence', sa.String(), nullable=True),
    sa.Column('annulled_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], ),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.subject_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('department_code', 'external_ref', name='uq_record_external_ref')
    )
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.create_index('ix_record_subject_rule', ['subject_id', 'rule_code', 'occurred_on'],
                              unique=False)
        batch_op.create_index('ix_record_window', ['occurred_on', 'ends_on'], unique=False)

    op.create_table('standing',
    sa.Column('subject_id', sa.String(length=18), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=True),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['subject_id'], ['subject.subject_id'], ),
    sa.PrimaryKeyConstraint('subject_id')
    )
    with op.batch_alter_table('standing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standing_tier'), ['tier'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('standing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standing_tier'))

    op.drop_table('standing')
    with op.batch_alter_table('record', schema=None) as batch_op:
        batch_op.drop_index('ix_record_window')
        batch_op.drop_index('ix_record_subject_rule')

    op.drop_table('record')
    with op.batch_alter_table('list_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_list_entry_window')
        batch_op.drop_index('ix_list_entry_subject')

    op.drop_table('list_entry')
    op.drop_table('account')
    with op.batch_alter_table('tier_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tier_change_subject_id'))
        batch_op.drop_index(batch_op.f('ix_tier_change_run_id'))

    op.drop_table('tier_change')
    with op.batch_alter_table('subject', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subject_name'))
        batch_op.drop_index(batch_op.f('ix_subject_legal_representative'))
        batch_op.drop_index(batch_op.f('ix_subject_district'))

    op.drop_table('subject')
    with op.batch_alter_table('standing_measure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standing_measure_measure_code'))

    op.drop_table('standing_measure')
    with op.batch_alter_table('standing_flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standing_flag_flag_code'))

    op.drop_table('standing_flag')
    op.drop_table('scheduler_lock')
    op.drop_index('ix_apscheduler_jobs_next_run_time', table_name='apscheduler_jobs')
    op.drop_table('apscheduler_jobs')
    op.drop_table('run')
    op.drop_table('rulebook_version')
    op.drop_table('department')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_subject_id'))
        batch_op.drop_index(batch_op.f('ix_audit_event_action'))

    op.drop_table('audit_event')

