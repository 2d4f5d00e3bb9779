"""bookings, leases, maintenance, notifications, calendar feeds

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

The no-overlap rule of active reservations is enforced by the database: an exclusion constraint on
PostgreSQL (btree_gist), two triggers on SQLite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import factory.models.base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coop_id', sa.Integer(), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['coop_id'], ['coop.id'], name=op.f('fk_notification_coop_id_coop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_coop_created', ['coop_id', 'created_at'], unique=False)

    op.create_table('booking_series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('coop_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=True),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('cancelled_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint('count IS NULL OR count > 0', name=op.f('ck_booking_series_count')),
    sa.ForeignKeyConstraint(['coop_id'], ['coop.id'], name=op.f('fk_booking_series_coop_id_coop')),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_booking_series_machine_id_machine'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_series'))
    )
    with op.batch_alter_table('booking_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_series_machine_id'), ['machine_id'], unique=False)

    op.create_table('calendar_feed',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=True),
    sa.Column('coop_id', sa.Integer(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.CheckConstraint("(scope = 'coop') = (coop_id IS NOT NULL)", name=op.f('ck_calendar_feed_coop_scope')),
    sa.CheckConstraint("(scope = 'machine') = (machine_id IS NOT NULL)", name=op.f('ck_calendar_feed_machine_scope')),
    sa.CheckConstraint("scope IN ('machine', 'coop')", name=op.f('ck_calendar_feed_scope')),
    sa.ForeignKeyConstraint(['coop_id'], ['coop.id'], name=op.f('fk_calendar_feed_coop_id_coop'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_calendar_feed_machine_id_machine'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feed')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feed_token_hash'))
    )
    with op.batch_alter_table('calendar_feed', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_feed_coop_id'), ['coop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_feed_machine_id'), ['machine_id'], unique=False)

    op.create_table('lease',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('coop_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('rent_per_hour', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('proposed_by', sa.String(length=32), nullable=False),
    sa.Column('proposed_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('decided_by', sa.String(length=32), nullable=True),
    sa.Column('decided_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('proposed', 'approved', 'declined', 'withdrawn')", name=op.f('ck_lease_status')),
    sa.CheckConstraint('rent_per_hour >= 0', name=op.f('ck_lease_rent')),
    sa.CheckConstraint('starts_on <= ends_on', name=op.f('ck_lease_dates')),
    sa.ForeignKeyConstraint(['coop_id'], ['coop.id'], name=op.f('fk_lease_coop_id_coop')),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_lease_machine_id_machine'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lease'))
    )
    with op.batch_alter_table('lease', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lease_coop_id'), ['coop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lease_machine_id'), ['machine_id'], unique=False)

    op.create_table('lease_release',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lease_id', sa.Integer(), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('released_by', sa.String(length=32), nullable=False),
    sa.Column('released_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['lease_id'], ['lease.id'], name=op.f('fk_lease_release_lease_id_lease'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lease_release')),
    sa.UniqueConstraint('lease_id', 'on_date', name='uq_lease_release_day')
    )
    op.create_table('lease_window',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lease_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('opens_min', sa.Integer(), nullable=False),
    sa.Column('closes_min', sa.Integer(), nullable=False),
    sa.CheckConstraint('opens_min >= 0 AND opens_min < closes_min AND closes_min <= 1440', name=op.f('ck_lease_window_interval')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_lease_window_weekday')),
    sa.ForeignKeyConstraint(['lease_id'], ['lease.id'], name=op.f('fk_lease_window_lease_id_lease'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lease_window'))
    )
    with op.batch_alter_table('lease_window', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lease_window_lease_id'), ['lease_id'], unique=False)

    op.create_table('reservation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('coop_id', sa.Integer(), nullable=True),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('ends_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('cancelled_by', sa.String(length=32), nullable=True),
    sa.Column('cancelled_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=False),
    sa.CheckConstraint("kind = 'maintenance' OR coop_id IS NOT NULL", name=op.f('ck_reservation_booking_has_coop')),
    sa.CheckConstraint("kind IN ('booking', 'maintenance')", name=op.f('ck_reservation_kind')),
    sa.CheckConstraint("status IN ('active', 'cancelled')", name=op.f('ck_reservation_status')),
    sa.CheckConstraint('starts_at < ends_at', name=op.f('ck_reservation_interval')),
    sa.ForeignKeyConstraint(['coop_id'], ['coop.id'], name=op.f('fk_reservation_coop_id_coop')),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_reservation_machine_id_machine'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['series_id'], ['booking_series.id'], name=op.f('fk_reservation_series_id_booking_series')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservation'))
    )
    with op.batch_alter_table('reservation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservation_coop_id'), ['coop_id'], unique=False)
        batch_op.create_index('ix_reservation_machine_starts', ['machine_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reservation_series_id'), ['series_id'], unique=False)

    op.create_table('reservation_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reservation_id', sa.Integer(), nullable=False),
    sa.Column('at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('by', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('starts_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('ends_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("action IN ('created', 'edited', 'moved', 'cancelled')", name=op.f('ck_reservation_change_action')),
    sa.ForeignKeyConstraint(['reservation_id'], ['reservation.id'], name=op.f('fk_reservation_change_reservation_id_reservation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservation_change'))
    )
    with op.batch_alter_table('reservation_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservation_change_reservation_id'), ['reservation_id'], unique=False)

    with op.batch_alter_table('machine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('booking_min_minutes', sa.Integer(), server_default='30', nullable=False))
        batch_op.add_column(sa.Column('booking_max_minutes', sa.Integer(), server_default='480', nullable=False))
        batch_op.add_column(sa.Column('booking_notice_minutes', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('booking_horizon_days', sa.Integer(), server_default='180', nullable=False))
        batch_op.add_column(sa.Column('expected_back_at', factory.models.base.UTCDateTime(), nullable=True))
        batch_op.create_check_constraint(
            'booking_length', 'booking_min_minutes > 0 AND booking_min_minutes <= booking_max_minutes')
        batch_op.create_check_constraint(
            'booking_notice', 'booking_notice_minutes >= 0 AND booking_horizon_days > 0')

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notifications_seen_at', factory.models.base.UTCDateTime(), nullable=True))

    _no_overlap_up()


def downgrade() -> None:
    _no_overlap_down()
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('notifications_seen_at')

    with op.batch_alter_table('machine', schema=None) as batch_op:
        batch_op.drop_constraint('booking_notice', type_='check')
        batch_op.drop_constraint('booking_length', type_='check')
        batch_op.drop_column('expected_back_at')
        batch_op.drop_column('booking_horizon_days')
        batch_op.drop_column('booking_notice_minutes')
        batch_op.drop_column('booking_max_minutes')
        batch_op.drop_column('booking_min_minutes')

    with op.batch_alter_table('reservation_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservation_change_reservation_id'))

    op.drop_table('reservation_change')
    with op.batch_alter_table('reservation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservation_series_id'))
        batch_op.drop_index('ix_reservation_machine_starts')
        batch_op.drop_index(batch_op.f('ix_reservation_coop_id'))

    op.drop_table('reservation')
    with op.batch_alter_table('lease_window', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lease_window_lease_id'))

    op.drop_table('lease_window')
    op.drop_table('lease_release')
    with op.batch_alter_table('lease', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lease_machine_id'))
        batch_op.drop_index(batch_op.f('ix_lease_coop_id'))

    op.drop_table('lease')
    with op.batch_alter_table('calendar_feed', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_feed_machine_id'))
        batch_op.drop_index(batch_op.f('ix_calendar_feed_coop_id'))

    op.drop_table('calendar_feed')
    with op.batch_alter_table('booking_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_series_machine_id'))

    op.drop_table('booking_series')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_coop_created')

    op.drop_table('notification')


# An active reservation may not overlap another active one of the same machine; touching is fine ([) ranges).
SQLITE_OVERLAP = """
CREATE TRIGGER trg_reservation_no_overlap_{event} BEFORE {event} ON reservation
WHEN NEW.status = 'active' AND EXISTS (
    SELECT 1 FROM reservation AS other
    WHERE other.machine_id = NEW.machine_id AND other.status = 'active' AND other.id IS NOT NEW.id
      AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at)
BEGIN
    SELECT RAISE(ABORT, 'ex_reservation_no_overlap: the machine already has an active reservation then');
END
"""


def _no_overlap_up() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
        op.execute("ALTER TABLE reservation ADD CONSTRAINT ex_reservation_no_overlap EXCLUDE USING gist "
                   "(machine_id WITH =, tsrange(starts_at, ends_at, '[)') WITH &&) WHERE (status = 'active')")
    else:
        op.execute(SQLITE_OVERLAP.format(event='INSERT'))
        op.execute(SQLITE_OVERLAP.format(event='UPDATE'))


def _no_overlap_down() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE reservation DROP CONSTRAINT ex_reservation_no_overlap')
    else:
        op.execute('DROP TRIGGER IF EXISTS trg_reservation_no_overlap_INSERT')
        op.execute('DROP TRIGGER IF EXISTS trg_reservation_no_overlap_UPDATE')
