"""telemetry: samples, events, machine credentials, ingest counters, last seen

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import factory.models.base

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ingest_counter',
    sa.Column('worker', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('updated_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('worker', 'name', name=op.f('pk_ingest_counter'))
    )
    op.create_table('machine_credential',
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('rotated_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_machine_credential_machine_id_machine'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('machine_id', name=op.f('pk_machine_credential'))
    )
    op.create_table('machine_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('ts', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('event', sa.String(length=24), nullable=False),
    sa.Column('job', sa.String(length=500), nullable=True),
    sa.Column('code', sa.String(length=500), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('received_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("event IN ('job_started', 'job_finished', 'job_failed', 'fault', 'fault_cleared', 'alarm', 'door_open', 'door_closed')", name=op.f('ck_machine_event_event')),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_machine_event_machine_id_machine'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_machine_event')),
    sa.UniqueConstraint('machine_id', 'seq', 'ts', name='uq_machine_event_message')
    )
    with op.batch_alter_table('machine_event', schema=None) as batch_op:
        batch_op.create_index('ix_machine_event_machine_ts', ['machine_id', 'ts'], unique=False)

    op.create_table('telemetry_sample',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('ts', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=True),
    sa.Column('resolution_s', sa.Integer(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.CheckConstraint('resolution_s >= 0', name=op.f('ck_telemetry_sample_resolution')),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_telemetry_sample_machine_id_machine'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_telemetry_sample')),
    sa.UniqueConstraint('machine_id', 'seq', 'ts', name='uq_telemetry_sample_message')
    )
    with op.batch_alter_table('telemetry_sample', schema=None) as batch_op:
        batch_op.create_index('ix_telemetry_sample_machine_ts', ['machine_id', 'ts'], unique=False)

    with op.batch_alter_table('machine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('progress', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('state_detail', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('last_seen', factory.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('metrics', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('metrics_at', factory.models.base.UTCDateTime(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('machine', schema=None) as batch_op:
        batch_op.drop_column('metrics_at')
        batch_op.drop_column('metrics')
        batch_op.drop_column('last_seen')
        batch_op.drop_column('state_detail')
        batch_op.drop_column('progress')
        batch_op.drop_column('job')

    with op.batch_alter_table('telemetry_sample', schema=None) as batch_op:
        batch_op.drop_index('ix_telemetry_sample_machine_ts')

    op.drop_table('telemetry_sample')
    with op.batch_alter_table('machine_event', schema=None) as batch_op:
        batch_op.drop_index('ix_machine_event_machine_ts')

    op.drop_table('machine_event')
    op.drop_table('machine_credential')
    op.drop_table('ingest_counter')
