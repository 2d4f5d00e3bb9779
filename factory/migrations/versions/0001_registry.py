"""registry: commune, sites, co-ops, members, users, tokens, machines

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import factory.models.base

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('commune',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commune'))
    )
    op.create_table('coop',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['commune.id'], name=op.f('fk_coop_commune_id_commune')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop')),
    sa.UniqueConstraint('slug', name=op.f('uq_coop_slug'))
    )
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['commune.id'], name=op.f('fk_site_commune_id_commune')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('slug', name=op.f('uq_site_slug'))
    )
    op.create_table('machine',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=120), nullable=False),
    sa.Column('build_x_mm', sa.Integer(), nullable=True),
    sa.Column('build_y_mm', sa.Integer(), nullable=True),
    sa.Column('build_z_mm', sa.Integer(), nullable=True),
    sa.Column('materials', sa.JSON(), nullable=False),
    sa.Column('max_temperature_c', sa.Integer(), nullable=True),
    sa.Column('spindle_power_w', sa.Integer(), nullable=True),
    sa.Column('unattended_ok', sa.Boolean(), nullable=False),
    sa.Column('acquisition_cost', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('acquired_on', sa.Date(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_since', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('fdm_printer', 'resin_printer', 'cnc_mill', 'cnc_router', 'laser_cutter', 'kiln', 'furnace', 'other')", name=op.f('ck_machine_kind')),
    sa.CheckConstraint("state IN ('offline', 'idle', 'running', 'paused', 'fault', 'maintenance')", name=op.f('ck_machine_state')),
    sa.CheckConstraint('acquisition_cost >= 0', name=op.f('ck_machine_cost')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_machine_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_machine'))
    )
    with op.batch_alter_table('machine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_machine_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_machine_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_machine_state'), ['state'], unique=False)

    op.create_table('member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('coop_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('shares', sa.Integer(), nullable=False),
    sa.Column('joined_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('left_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint('shares = 1', name=op.f('ck_member_one_share')),
    sa.ForeignKeyConstraint(['commune_id'], ['commune.id'], name=op.f('fk_member_commune_id_commune')),
    sa.ForeignKeyConstraint(['coop_id'], ['coop.id'], name=op.f('fk_member_coop_id_coop')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member')),
    sa.UniqueConstraint('commune_id', 'email', name=op.f('uq_member_commune_id'))
    )
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_coop_id'), ['coop_id'], unique=False)

    op.create_table('opening_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('opens_min', sa.Integer(), nullable=False),
    sa.Column('closes_min', sa.Integer(), nullable=False),
    sa.CheckConstraint('opens_min >= 0 AND opens_min < closes_min AND closes_min <= 1440', name=op.f('ck_opening_hours_interval')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_opening_hours_weekday')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_opening_hours_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opening_hours'))
    )
    with op.batch_alter_table('opening_hours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opening_hours_site_id'), ['site_id'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('coop_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('last_login_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint("role <> 'member' OR coop_id IS NOT NULL", name=op.f('ck_user_account_member_has_coop')),
    sa.CheckConstraint("role IN ('admin', 'steward', 'member')", name=op.f('ck_user_account_role')),
    sa.ForeignKeyConstraint(['coop_id'], ['coop.id'], name=op.f('fk_user_account_coop_id_coop')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('login', name=op.f('uq_user_account_login'))
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_account_coop_id'), ['coop_id'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_api_token_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('machine_state_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.CheckConstraint("to_state IN ('offline', 'idle', 'running', 'paused', 'fault', 'maintenance')", name=op.f('ck_machine_state_change_to_state')),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_machine_state_change_machine_id_machine'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_machine_state_change'))
    )
    with op.batch_alter_table('machine_state_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_machine_state_change_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_machine_state_change_machine_id'), ['machine_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('machine_state_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_machine_state_change_machine_id'))
        batch_op.drop_index(batch_op.f('ix_machine_state_change_at'))

    op.drop_table('machine_state_change')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_account_coop_id'))

    op.drop_table('user_account')
    with op.batch_alter_table('opening_hours', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opening_hours_site_id'))

    op.drop_table('opening_hours')
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_coop_id'))

    op.drop_table('member')
    with op.batch_alter_table('machine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_machine_state'))
        batch_op.drop_index(batch_op.f('ix_machine_site_id'))
        batch_op.drop_index(batch_op.f('ix_machine_kind'))

    op.drop_table('machine')
    op.drop_table('site')
    op.drop_table('coop')
    op.drop_table('commune')
