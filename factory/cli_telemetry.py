"""`factory` commands for machine telemetry: the broker, the ingest worker, machines' broker logins, retention,
and the demo's simulated machines."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from drivers.broker_url import BrokerAddress, parse_broker_url
from factory import demo
from factory.broker.passwords import hash_password
from factory.broker.serve import KEY as MQTT_URL_KEY
from factory.broker.serve import BrokerSetup, listener_address, serve
from factory.broker.service_account import service_address, service_password
from factory.cli_support import Context, or_fail, pass_context
from factory.ingest.worker import IngestWorker, WorkerOptions
from factory.services.machine_credentials import issue_machine_password, machine_accounts
from factory.services.machines import get_machine
from factory.services.telemetry import Retention, downsample_and_prune


def retention_of(ctx: Context) -> Retention:
    return Retention(raw_hours=ctx.settings.telemetry_raw_hours, keep_days=ctx.settings.telemetry_keep_days)


def log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def until_signalled(stop) -> None:
    """Call `stop()` on SIGINT or SIGTERM."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop())


def broker_url_checked(action):
    """`action()`, with a ValueError about the broker URL turned into a usage error naming FACTORY_MQTT_URL."""
    try:
        return action()
    except ValueError as exc:
        message = str(exc) if str(exc).startswith(MQTT_URL_KEY) else f"{MQTT_URL_KEY}: {exc}"
        raise click.UsageError(message) from exc


@click.command("broker")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="where the config, password, ACL and persistence files go  [default: <instance>/broker]")
@click.option("--allow-remote", is_flag=True,
              help="listen on FACTORY_MQTT_URL's host even when it is not loopback, for machines on the network")
@click.option("--refresh-every", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="seconds between re-reading the machines' logins from the database")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="certificate chain for an mqtts:// listener")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="private key for an mqtts:// listener")
@pass_context
def broker(ctx: Context, directory: Path | None, allow_remote: bool, refresh_every: float, tls_cert: Path | None,
           tls_key: Path | None) -> None:
    """Run the factory's own Mosquitto in the foreground on FACTORY_MQTT_URL's host and port.

    Machines with issued credentials (`factory machine-credentials`) and the ingest's `factory` account
    may log in; new machines and rotated passwords are picked up within --refresh-every seconds.
    """
    address = broker_url_checked(lambda: listener_address(ctx.settings.mqtt_url, allow_remote=allow_remote))
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("give both --tls-cert and --tls-key, or neither")
    tls_files = (tls_cert, tls_key) if tls_cert is not None else None
    directory = directory or ctx.settings.instance_dir / "broker"
    setup = broker_url_checked(lambda: BrokerSetup(directory, address, tls_files))
    service_hash = hash_password(service_password(ctx.settings.instance_dir))

    def read_accounts():
        with ctx.session() as session:
            return machine_accounts(session)

    log_to_stderr()
    click.echo(f"factory broker on {address.url()}, files in {setup.directory}")
    try:
        code = serve(read_accounts, setup, service_hash, refresh_every_s=refresh_every)
    except (FileNotFoundError, PermissionError) as exc:
        raise click.ClickException(str(exc)) from exc
    if code:
        raise click.ClickException(f"mosquitto exited with code {code}")


@click.command("ingest")
@click.option("--name", default="", help="worker name in /metrics and its broker session (default: the host name); "
                                         "keep it the same across restarts, and distinct per worker")
@click.option("--shared", is_flag=True, help="join the $share/ingest group so several workers split the load "
                                            "(see docs/telemetry.md for what a broker restart then costs)")
@pass_context
def ingest(ctx: Context, name: str, shared: bool) -> None:
    """Store machines' MQTT messages in the database, acknowledging each once it is committed."""
    log_to_stderr()
    address = broker_url_checked(lambda: service_address(ctx.settings.mqtt_url, ctx.settings.instance_dir))
    worker = IngestWorker(ctx.sessions(), address,
                          WorkerOptions(name=name, retention=retention_of(ctx), shared=shared))
    until_signalled(worker.stop)
    click.echo(f"ingest worker {worker.name} on {address.url()}")
    worker.run()


@click.command("machine-credentials")
@click.argument("machine_id")
@pass_context
def machine_credentials(ctx: Context, machine_id: str) -> None:
    """Issue or rotate MACHINE_ID's broker password and print it once (the old one stops working)."""
    broker_url = broker_url_checked(lambda: parse_broker_url(ctx.settings.mqtt_url))
    with ctx.session() as session:
        machine = or_fail(lambda: get_machine(session, machine_id))
        site = machine.site.slug
        password = or_fail(lambda: issue_machine_password(session, machine_id))
    login = BrokerAddress(broker_url.host, broker_url.port, machine_id, password, broker_url.tls, broker_url.ca_file)
    click.echo(f"user:     {machine_id}\npassword: {password}")
    click.echo(f"topics:   publish mf/{site}/{machine_id}/#, subscribe mf/{site}/{machine_id}/cmd")
    click.echo(f"bridge:   --broker {login.url(with_password=True)} --site {site} --machine {machine_id}")
    if broker_url.username is None:
        click.echo("A running `factory broker` picks the new password up within seconds.", err=True)
    else:
        click.echo("FACTORY_MQTT_URL names an existing broker: add this user and password there, with the ACL "
                   "described in README.md (Telemetry).", err=True)


@click.command("telemetry-prune")
@pass_context
def telemetry_prune(ctx: Context) -> None:
    """Fold old samples into means and delete those past FACTORY_TELEMETRY_KEEP_DAYS (the ingest does it too)."""
    with ctx.session() as session:
        folded, pruned = downsample_and_prune(session, retention_of(ctx))
    click.echo(f"{folded} samples folded into means, {pruned} deleted")


@click.command("demo-machines")
@click.option("--rest", "rest_s", type=click.FloatRange(min=0), default=20.0, show_default=True,
              help="seconds a demo machine stands idle before it is given its next job")
@pass_context
def demo_machines(ctx: Context, rest_s: float) -> None:
    """Run the broker, the ingest and simulated machines (a printer, a mill, a kiln) until Ctrl-C (`make demo`)."""
    address = broker_url_checked(lambda: listener_address(ctx.settings.mqtt_url))
    log_to_stderr()
    stop = threading.Event()
    until_signalled(stop.set)
    try:
        demo.run(ctx.settings, ctx.sessions(), address, stop, rest_s=rest_s)
    except demo.DemoError as exc:
        raise click.ClickException(str(exc)) from exc


COMMANDS = [broker, ingest, machine_credentials, telemetry_prune, demo_machines]
