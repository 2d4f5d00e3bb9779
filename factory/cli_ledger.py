"""`factory ledger close YYYY-MM` and `factory ledger statement YYYY-MM`: the commune's books by month."""

from __future__ import annotations

import click

from factory.cli_support import Context, or_fail, pass_context
from factory.domain.money import format_cents
from factory.services.ledger import close_period, parse_month, statement


@click.group("ledger")
def ledger() -> None:
    """The commune's books: rents, bond service, upkeep, surplus and dividends by month."""


@ledger.command("close")
@click.argument("month")
@pass_context
def close(ctx: Context, month: str) -> None:
    """Close MONTH (YYYY-MM, once it is over): charge the rents, pay the bonds and upkeep, divide the surplus."""
    with ctx.session() as session:
        period = or_fail(lambda: close_period(session, month, by="cli"))
        click.echo(f"{period.month} closed: rents {format_cents(period.rents_cents)}, bond service "
                   f"{format_cents(period.interest_cents + period.principal_cents)}, upkeep "
                   f"{format_cents(period.upkeep_cents)}; paid out {format_cents(period.payout_cents)} to "
                   f"{period.members} members, carried forward {format_cents(period.carried_out_cents)}")


@ledger.command("statement")
@click.argument("month")
@pass_context
def show(ctx: Context, month: str) -> None:
    """Print MONTH's statement (as closed, or as it stands while open)."""
    with ctx.session() as session:
        found = or_fail(lambda: statement(session, parse_month(month, session)))
        figures = found.figures
        click.echo(f"{month} ({'closed' if found.closed else 'open'})")
        for name, cents in (("rents", figures.rents), ("bond service", figures.bond_service),
                            ("upkeep", figures.upkeep), ("carried in", figures.carried_in),
                            ("paid out", figures.payout), ("carried forward", figures.carried_out)):
            click.echo(f"  {name:16} {format_cents(cents):>14}")
        for coop_id, cents in sorted(found.rent_by_coop().items()):
            click.echo(f"  rent of {found.coops[coop_id].name}: {format_cents(cents)}")


COMMANDS = [ledger]
