"""`factory plan` (one re-plan by hand) and `factory planner` (the worker that re-plans on every trigger)."""

from __future__ import annotations

import click

from factory.broker.service_account import service_address
from factory.cli_support import Context, pass_context
from factory.cli_telemetry import broker_url_checked, log_to_stderr, until_signalled
from factory.planner_worker import PlannerOptions, PlannerWorker
from factory.services.planning import replan


@click.command("plan")
@click.option("--seconds", type=click.FloatRange(min=0.5, max=300), default=None,
              help="the solver's time limit  [default: FACTORY_PLAN_SECONDS, 5]")
@click.option("--note", default="", help="why, for the version's triggers")
@pass_context
def plan(ctx: Context, seconds: float | None, note: str) -> None:
    """Plan now from the database and publish the plan if the checker passes it."""
    with ctx.session() as session:
        limit = seconds or ctx.settings.plan_seconds
        version = replan(session, by="cli", kind="manual", detail=note, time_limit_s=limit,
                         log=lambda line: click.echo(line, err=True))
        click.echo(f"plan version {version.id}: {version.outcome}; {len(version.assignments)} operations placed, "
                   f"{len(version.unplanned)} unplanned, {version.moved} moved")
        for item in version.unplanned:
            click.echo(f"  operation {item.operation_id}: {item.explanation}")
        if version.outcome != "published":
            raise click.ClickException(version.reason)


@click.command("planner")
@click.option("--settle", type=click.FloatRange(min=0.0, max=60), default=1.0, show_default=True,
              help="seconds without a new trigger before planning (triggers in that time are planned together)")
@click.option("--no-commands", is_flag=True, help="do not connect to the broker (no start_job dispatch)")
@pass_context
def planner(ctx: Context, settle: float, no_commands: bool) -> None:
    """Re-plan whenever an order, booking, maintenance window, machine state or operation changes."""
    log_to_stderr()
    address = None if no_commands else broker_url_checked(
        lambda: service_address(ctx.settings.mqtt_url, ctx.settings.instance_dir))
    worker = PlannerWorker(ctx.sessions(), address, PlannerOptions(settle_s=settle, max_wait_s=max(5.0, settle * 3),
                                                                   time_limit_s=ctx.settings.plan_seconds))
    until_signalled(worker.stop)
    click.echo("planner worker" + ("" if address is None else f" on {address.url()}"))
    worker.run()


COMMANDS = [plan, planner]
