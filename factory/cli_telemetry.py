"""`factory` commands for machine telemetry: the ingest worker, machines' broker logins, retention."""

from __future__ import annotations

import logging
import signal

import click

from factory.broker.service_account import service_address
from factory.cli_support import Context, or_fail, pass_context
from factory.ingest.worker import IngestWorker, WorkerOptions
from factory.services.machine_credentials import issue_machine_password
from factory.services.machines import get_machine
from factory.services.telemetry import Retention, downsample_and_prune


def retention_of(ctx: Context) -> Retention:
    return Retention(raw_hours=ctx.settings.telemetry_raw_hours, keep_days=ctx.settings.telemetry_keep_days)


@click.command("ingest")
@click.option("--name", default="", help="worker name in /metrics (default host-pid)")
@pass_context
def ingest(ctx: Context, name: str) -> None:
    """Store machines' MQTT messages; run several for more throughput (they share the subscription)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        address = service_address(ctx.settings.mqtt_url, ctx.settings.instance_dir)
    except ValueError as exc:
        raise click.UsageError(f"FACTORY_MQTT_URL: {exc}") from exc
    worker = IngestWorker(ctx.sessions(), address, WorkerOptions(name=name, retention=retention_of(ctx)))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: worker.stop())
    click.echo(f"ingest worker {worker.name} on {address.url()}")
    worker.run()


@click.command("machine-credentials")
@click.argument("machine_id")
@pass_context
def machine_credentials(ctx: Context, machine_id: str) -> None:
    """Issue or rotate MACHINE_ID's broker password and print it once (the old one stops working)."""
    with ctx.session() as session:
        machine = or_fail(lambda: get_machine(session, machine_id))
        site = machine.site.slug
        password = or_fail(lambda: issue_machine_password(session, machine_id))
    address = service_address(ctx.settings.mqtt_url, ctx.settings.instance_dir)
    click.echo(f"user:     {machine_id}\npassword: {password}")
    click.echo(f"topics:   publish mf/{site}/{machine_id}/#, subscribe mf/{site}/{machine_id}/cmd")
    click.echo(f"bridge:   --broker mqtt://{machine_id}:{password}@{address.host}:{address.port} "
               f"--site {site} --machine {machine_id}")
    click.echo("A running `factory broker` picks the new password up within seconds.", err=True)


@click.command("telemetry-prune")
@pass_context
def telemetry_prune(ctx: Context) -> None:
    """Fold old samples into means and delete those past FACTORY_TELEMETRY_KEEP_DAYS (the ingest does it too)."""
    with ctx.session() as session:
        folded, pruned = downsample_and_prune(session, retention_of(ctx))
    click.echo(f"{folded} samples folded into means, {pruned} deleted")


COMMANDS = [ingest, machine_credentials, telemetry_prune]
