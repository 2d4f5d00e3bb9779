"""the commune's ledger: bond series, upkeep, acquisition proposals, closed periods with their rent charges,
dividends and journal; machines' hourly rate and expected life

What a close writes is append-only: triggers refuse UPDATE and DELETE on ledger_period, rent_charge,
dividend, journal_entry and journal_posting (a correction is a reversing entry in a later period).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:15:52.066461
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import factory.models.base

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ledger_period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('closed_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('closed_by', sa.String(length=32), nullable=False),
    sa.Column('rents_cents', sa.Integer(), nullable=False),
    sa.Column('interest_cents', sa.Integer(), nullable=False),
    sa.Column('principal_cents', sa.Integer(), nullable=False),
    sa.Column('upkeep_cents', sa.Integer(), nullable=False),
    sa.Column('carried_in_cents', sa.Integer(), nullable=False),
    sa.Column('payout_cents', sa.Integer(), nullable=False),
    sa.Column('carried_out_cents', sa.Integer(), nullable=False),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_period')),
    sa.UniqueConstraint('month', name=op.f('uq_ledger_period_month'))
    )
    op.create_table('journal_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('memo', sa.String(length=300), nullable=False),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['period_id'], ['ledger_period.id'], name=op.f('fk_journal_entry_period_id_ledger_period')),
    sa.ForeignKeyConstraint(['reverses_id'], ['journal_entry.id'], name=op.f('fk_journal_entry_reverses_id_journal_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entry'))
    )
    with op.batch_alter_table('journal_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_entry_period_id'), ['period_id'], unique=False)

    op.create_table('acquisition_proposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coop_id', sa.Integer(), nullable=False),
    sa.Column('machine_kind', sa.String(length=24), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('estimated_cost_cents', sa.Integer(), nullable=False),
    sa.Column('lease_hours_per_week', sa.Integer(), nullable=False),
    sa.Column('lease_months', sa.Integer(), nullable=False),
    sa.Column('lease_rate_cents', sa.Integer(), nullable=False),
    sa.Column('demand', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=32), nullable=True),
    sa.Column('decided_at', factory.models.base.UTCDateTime(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('proposed', 'approved', 'declined')", name=op.f('ck_acquisition_proposal_status')),
    sa.CheckConstraint('estimated_cost_cents > 0', name=op.f('ck_acquisition_proposal_cost')),
    sa.CheckConstraint('lease_hours_per_week > 0 AND lease_months > 0 AND lease_rate_cents > 0', name=op.f('ck_acquisition_proposal_lease')),
    sa.ForeignKeyConstraint(['coop_id'], ['coop.id'], name=op.f('fk_acquisition_proposal_coop_id_coop')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acquisition_proposal'))
    )
    with op.batch_alter_table('acquisition_proposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acquisition_proposal_coop_id'), ['coop_id'], unique=False)

    op.create_table('journal_posting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=80), nullable=False),
    sa.Column('debit_cents', sa.Integer(), nullable=False),
    sa.Column('credit_cents', sa.Integer(), nullable=False),
    sa.CheckConstraint('(debit_cents > 0 AND credit_cents = 0) OR (credit_cents > 0 AND debit_cents = 0)', name=op.f('ck_journal_posting_one_side')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entry.id'], name=op.f('fk_journal_posting_entry_id_journal_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_posting'))
    )
    with op.batch_alter_table('journal_posting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_posting_account'), ['account'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_posting_entry_id'), ['entry_id'], unique=False)

    op.create_table('bond_series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('principal_cents', sa.Integer(), nullable=False),
    sa.Column('interest_rate', sa.Numeric(precision=7, scale=5), nullable=False),
    sa.Column('term_months', sa.Integer(), nullable=False),
    sa.Column('first_due', sa.Date(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint('interest_rate >= 0 AND interest_rate < 1', name=op.f('ck_bond_series_rate')),
    sa.CheckConstraint('principal_cents > 0', name=op.f('ck_bond_series_principal')),
    sa.CheckConstraint('term_months BETWEEN 1 AND 600', name=op.f('ck_bond_series_term')),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_bond_series_machine_id_machine')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bond_series'))
    )
    with op.batch_alter_table('bond_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bond_series_machine_id'), ['machine_id'], unique=False)

    op.create_table('dividend',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount_cents >= 0', name=op.f('ck_dividend_amount')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_dividend_member_id_member')),
    sa.ForeignKeyConstraint(['period_id'], ['ledger_period.id'], name=op.f('fk_dividend_period_id_ledger_period')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dividend')),
    sa.UniqueConstraint('period_id', 'member_id', name=op.f('uq_dividend_period_id'))
    )
    with op.batch_alter_table('dividend', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dividend_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dividend_period_id'), ['period_id'], unique=False)

    op.create_table('rent_charge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('coop_id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('ends_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('rate_cents', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.CheckConstraint('amount_cents >= 0', name=op.f('ck_rent_charge_amount')),
    sa.ForeignKeyConstraint(['coop_id'], ['coop.id'], name=op.f('fk_rent_charge_coop_id_coop')),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_rent_charge_machine_id_machine')),
    sa.ForeignKeyConstraint(['period_id'], ['ledger_period.id'], name=op.f('fk_rent_charge_period_id_ledger_period')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rent_charge')),
    sa.UniqueConstraint('machine_id', 'source', 'ref_id', 'starts_at', name='uq_rent_charge_piece')
    )
    with op.batch_alter_table('rent_charge', schema=None) as batch_op:
        batch_op.create_index('ix_rent_charge_period_coop', ['period_id', 'coop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rent_charge_period_id'), ['period_id'], unique=False)

    op.create_table('upkeep_cost',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.String(length=64), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', factory.models.base.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('maintenance', 'parts', 'other')", name=op.f('ck_upkeep_cost_kind')),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_upkeep_cost_amount')),
    sa.ForeignKeyConstraint(['machine_id'], ['machine.id'], name=op.f('fk_upkeep_cost_machine_id_machine')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upkeep_cost'))
    )
    with op.batch_alter_table('upkeep_cost', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upkeep_cost_machine_id'), ['machine_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_upkeep_cost_on_date'), ['on_date'], unique=False)

    with op.batch_alter_table('machine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hourly_rate_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('expected_life_years', sa.Integer(), nullable=True))

    _append_only_up()


def downgrade() -> None:
    _append_only_down()
    with op.batch_alter_table('machine', schema=None) as batch_op:
        batch_op.drop_column('expected_life_years')
        batch_op.drop_column('hourly_rate_cents')

    with op.batch_alter_table('upkeep_cost', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upkeep_cost_on_date'))
        batch_op.drop_index(batch_op.f('ix_upkeep_cost_machine_id'))

    op.drop_table('upkeep_cost')
    with op.batch_alter_table('rent_charge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rent_charge_period_id'))
        batch_op.drop_index('ix_rent_charge_period_coop')

    op.drop_table('rent_charge')
    with op.batch_alter_table('dividend', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dividend_period_id'))
        batch_op.drop_index(batch_op.f('ix_dividend_member_id'))

    op.drop_table('dividend')
    with op.batch_alter_table('bond_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bond_series_machine_id'))

    op.drop_table('bond_series')
    with op.batch_alter_table('journal_posting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_posting_entry_id'))
        batch_op.drop_index(batch_op.f('ix_journal_posting_account'))

    op.drop_table('journal_posting')
    with op.batch_alter_table('acquisition_proposal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acquisition_proposal_coop_id'))

    op.drop_table('acquisition_proposal')
    with op.batch_alter_table('journal_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_entry_period_id'))

    op.drop_table('journal_entry')
    op.drop_table('ledger_period')


TABLES = ('ledger_period', 'rent_charge', 'dividend', 'journal_entry', 'journal_posting')
CLOSED = "a closed period cannot change: correct it with a reversing entry in a later period"


def _append_only_up() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{CLOSED}'; END $$""")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER trg_{table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()")
        return
    for table in TABLES:
        for event in ('UPDATE', 'DELETE'):
            op.execute(f"CREATE TRIGGER trg_{table}_no_{event.lower()} BEFORE {event} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{CLOSED}'); END")


def _append_only_down() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'DROP TRIGGER IF EXISTS trg_{table}_append_only ON {table}')
        op.execute('DROP FUNCTION IF EXISTS ledger_append_only()')
        return
    for table in TABLES:
        for event in ('update', 'delete'):
            op.execute(f'DROP TRIGGER IF EXISTS trg_{table}_no_{event}')
