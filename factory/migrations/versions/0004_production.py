"""designs (BOM, routing), production orders, jobs, operations, materials, stock moves, reorder rules, kanban

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Stock moves are append-only in the database too: triggers refuse UPDATE and DELETE on stock_move.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import factory.models.base

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('design',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('licence', sa.String(length=64), nullable=False),
    sa.Column('source_url', sa.String(length=500), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('max_batch', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint('max_batch > 0', name=op.f('ck_design_max_batch')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_design')),
    sa.UniqueConstraint('slug', name=op.f('uq_design_slug'))
    )
    op.create_table('material',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('provenance', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("provenance IN ('new', 'reclaimed')", name=op.f('ck_material_provenance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material')),
    sa.UniqueConstraint('slug', name=op.f('uq_material_slug'))
    )
    op.create_table('routing_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('design_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('machine_kind', sa.String(length=24), nullable=False),
    sa.Column('material', sa.String(length=32), nullable=True),
    sa.Column('min_x_mm', sa.Integer(), nullable=True),
    sa.Column('min_y_mm', sa.Integer(), nullable=True),
    sa.Column('min_z_mm', sa.Integer(), nullable=True),
    sa.Column('min_temperature_c', sa.Integer(), nullable=True),
    sa.Column('setup_minutes', sa.Integer(), nullable=False),
    sa.Column('minutes_per_unit', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('setup_family', sa.String(length=64), nullable=False),
    sa.Column('batch_capacity', sa.Integer(), nullable=True),
    sa.CheckConstraint("machine_kind IN ('fdm_printer', 'resin_printer', 'cnc_mill', 'cnc_router', 'laser_cutter', 'kiln', 'furnace', 'other')", name=op.f('ck_routing_step_machine_kind')),
    sa.CheckConstraint('batch_capacity IS NULL OR batch_capacity > 0', name=op.f('ck_routing_step_batch_capacity')),
    sa.CheckConstraint('position > 0 AND setup_minutes >= 0 AND minutes_per_unit >= 0', name=op.f('ck_routing_step_times')),
    sa.ForeignKeyConstraint(['design_id'], ['design.id'], name=op.f('fk_routing_step_design_id_design'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_step')),
    sa.UniqueConstraint('design_id', 'position', name='uq_routing_step_position')
    )
    with op.batch_alter_table('routing_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_step_design_id'), ['design_id'], unique=False)

    op.create_table('design_material',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('design_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('quantity_per_unit', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.CheckConstraint('quantity_per_unit > 0', name=op.f('ck_design_material_quantity')),
    sa.ForeignKeyConstraint(['design_id'], ['design.id'], name=op.f('fk_design_material_design_id_design'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['material_id'], ['material.id'], name=op.f('fk_design_material_material_id_material')),
    sa.ForeignKeyConstraint(['step_id'], ['routing_step.id'], name=op.f('fk_design_material_step_id_routing_step'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_design_material'))
    )
    with op.batch_alter_table('design_material', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_design_material_design_id'), ['design_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_design_material_material_id'), ['material_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_design_material_step_id'), ['step_id'], unique=False)

    op.create_table('production_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coop_id', sa.Integer(), nullable=False),
    sa.Column('design_id', sa.Integer(), nullable=False),
    sa.Column('design_version', sa.String(length=32), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('needed_by', sa.Date(), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('placed_by', sa.String(length=32), nullable=False),
    sa.Column('placed_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f('ck_production_order_priority')),
    sa.CheckConstraint("status IN ('submitted', 'planned', 'in_progress', 'done', 'cancelled')", name=op.f('ck_production_order_status')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_production_order_quantity')),
    sa.ForeignKeyConstraint(['coop_id'], ['coop.id'], name=op.f('fk_production_order_coop_id_coop')),
    sa.ForeignKeyConstraint(['design_id'], ['design.id'], name=op.f('fk_production_order_design_id_design')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_production_order'))
    )
    with op.batch_alter_table('production_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_production_order_coop_id'), ['coop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_production_order_design_id'), ['design_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_production_order_status'), ['status'], unique=False)

    op.create_table('reorder_rule',
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('reorder_point', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('reorder_quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.CheckConstraint('reorder_point >= 0 AND reorder_quantity > 0', name=op.f('ck_reorder_rule_quantities')),
    sa.ForeignKeyConstraint(['material_id'], ['material.id'], name=op.f('fk_reorder_rule_material_id_material'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_reorder_rule_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('material_id', 'site_id', name=op.f('pk_reorder_rule'))
    )
    op.create_table('replenishment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('shortfall', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('ordered_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('ordered_by', sa.String(length=32), nullable=True),
    sa.Column('expected_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('received_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('received_by', sa.String(length=32), nullable=True),
    sa.Column('supplier_note', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'ordered', 'received', 'cancelled')", name=op.f('ck_replenishment_status')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_replenishment_quantity')),
    sa.ForeignKeyConstraint(['material_id'], ['material.id'], name=op.f('fk_replenishment_material_id_material')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_replenishment_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replenishment'))
    )
    with op.batch_alter_table('replenishment', schema=None) as batch_op:
        batch_op.create_index('ix_replenishment_material_site', ['material_id', 'site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_replenishment_status'), ['status'], unique=False)

    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_job_quantity')),
    sa.ForeignKeyConstraint(['order_id'], ['production_order.id'], name=op.f('fk_job_order_id_production_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    sa.UniqueConstraint('order_id', 'number', name='uq_job_number')
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_order_id'), ['order_id'], unique=False)

    op.create_table('order_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('by', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.CheckConstraint("to_status IN ('submitted', 'planned', 'in_progress', 'done', 'cancelled')", name=op.f('ck_order_change_to_status')),
    sa.ForeignKeyConstraint(['order_id'], ['production_order.id'], name=op.f('fk_order_change_order_id_production_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_change'))
    )
    with op.batch_alter_table('order_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_change_order_id'), ['order_id'], unique=False)

    op.create_table('operation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('earliest_start', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('material_note', sa.Text(), nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=True),
    sa.Column('planned_start', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('planned_end', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('started_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('finished_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('waiting', 'planned', 'running', 'done', 'cancelled')", name=op.f('ck_operation_status')),
    sa.CheckConstraint('duration_minutes > 0', name=op.f('ck_operation_duration')),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], name=op.f('fk_operation_job_id_job'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_operation_machine_id_machine')),
    sa.ForeignKeyConstraint(['step_id'], ['routing_step.id'], name=op.f('fk_operation_step_id_routing_step')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operation')),
    sa.UniqueConstraint('job_id', 'position', name='uq_operation_position')
    )
    with op.batch_alter_table('operation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operation_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_operation_status'), ['status'], unique=False)

    op.create_table('stock_move',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('on_hand_delta', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('reserved_delta', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('operation_id', sa.Integer(), nullable=True),
    sa.Column('transfer_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('by', sa.String(length=32), nullable=False),
    sa.CheckConstraint("reason = 'adjusted' OR quantity > 0", name=op.f('ck_stock_move_quantity')),
    sa.CheckConstraint("reason IN ('received', 'reserved', 'released', 'consumed', 'adjusted', 'transferred_out', 'transferred_in', 'scrapped')", name=op.f('ck_stock_move_reason')),
    sa.ForeignKeyConstraint(['material_id'], ['material.id'], name=op.f('fk_stock_move_material_id_material')),
    sa.ForeignKeyConstraint(['operation_id'], ['operation.id'], name=op.f('fk_stock_move_operation_id_operation')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_stock_move_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_move'))
    )
    with op.batch_alter_table('stock_move', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_move_at'), ['at'], unique=False)
        batch_op.create_index('ix_stock_move_material_site', ['material_id', 'site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_move_operation_id'), ['operation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_move_transfer_id'), ['transfer_id'], unique=False)

    _append_only_up()


def downgrade() -> None:
    _append_only_down()
    with op.batch_alter_table('stock_move', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_move_transfer_id'))
        batch_op.drop_index(batch_op.f('ix_stock_move_operation_id'))
        batch_op.drop_index('ix_stock_move_material_site')
        batch_op.drop_index(batch_op.f('ix_stock_move_at'))

    op.drop_table('stock_move')
    with op.batch_alter_table('operation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operation_status'))
        batch_op.drop_index(batch_op.f('ix_operation_job_id'))

    op.drop_table('operation')
    with op.batch_alter_table('order_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_change_order_id'))

    op.drop_table('order_change')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_order_id'))

    op.drop_table('job')
    with op.batch_alter_table('replenishment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replenishment_status'))
        batch_op.drop_index('ix_replenishment_material_site')

    op.drop_table('replenishment')
    op.drop_table('reorder_rule')
    with op.batch_alter_table('production_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_production_order_status'))
        batch_op.drop_index(batch_op.f('ix_production_order_design_id'))
        batch_op.drop_index(batch_op.f('ix_production_order_coop_id'))

    op.drop_table('production_order')
    with op.batch_alter_table('design_material', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_design_material_step_id'))
        batch_op.drop_index(batch_op.f('ix_design_material_material_id'))
        batch_op.drop_index(batch_op.f('ix_design_material_design_id'))

    op.drop_table('design_material')
    with op.batch_alter_table('routing_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_step_design_id'))

    op.drop_table('routing_step')
    op.drop_table('material')
    op.drop_table('design')


APPEND_ONLY = "stock_move is append-only: correct a move with a later adjustment"


def _append_only_up() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""CREATE FUNCTION stock_move_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$""")
        op.execute("CREATE TRIGGER trg_stock_move_append_only BEFORE UPDATE OR DELETE ON stock_move "
                   "FOR EACH ROW EXECUTE FUNCTION stock_move_append_only()")
        return
    for event in ('UPDATE', 'DELETE'):
        op.execute(f"CREATE TRIGGER trg_stock_move_no_{event.lower()} BEFORE {event} ON stock_move "
                   f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")


def _append_only_down() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS trg_stock_move_append_only ON stock_move')
        op.execute('DROP FUNCTION IF EXISTS stock_move_append_only()')
        return
    for event in ('update', 'delete'):
        op.execute(f'DROP TRIGGER IF EXISTS trg_stock_move_no_{event}')
