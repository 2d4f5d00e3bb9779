"""The `factory` command (DESIGN.md 4.4)."""

from __future__ import annotations

import sys

import click

from factory import db as database
from factory.app import create_app
from factory.cli_support import Context, or_fail, pass_context, shown
from factory.seed import DEMO_LOGINS, seed_demo_commune
from factory.services.tokens import create_token, list_tokens, revoke_token
from factory.services.users import UserDraft, create_user
from factory.settings import ConfigError


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """microfactory: the commune's shared machines."""
    try:
        ctx.obj = Context()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug", is_flag=True, help="reload on code changes, show tracebacks")
@pass_context
def run(ctx: Context, host: str, port: int, debug: bool) -> None:
    """Serve the web app and the JSON API."""
    create_app(ctx.settings).run(host=host, port=port, debug=debug, use_reloader=debug)


@cli.command("init-db")
@pass_context
def init_db(ctx: Context) -> None:
    """Create or migrate the database to the newest schema."""
    database.upgrade(ctx.settings.database_url)
    click.echo(f"database at {shown(ctx.settings.database_url)} is at the newest schema")


@cli.command("seed-demo")
@pass_context
def seed_demo(ctx: Context) -> None:
    """Load the demo commune into an empty database; does nothing when a commune exists."""
    with ctx.session() as session:
        created = seed_demo_commune(session)
    click.echo("demo commune loaded" if created else "a commune exists already: demo data not loaded")
    click.echo("demo logins (login / password):")
    for login, password, role in DEMO_LOGINS:
        click.echo(f"  {login:<10} {password:<16} {role}")


@cli.command("create-user")
@click.argument("login")
@click.option("--role", type=click.Choice(["admin", "steward", "member"]), required=True)
@click.option("--coop", help="co-op slug (members only)")
@click.option("--name", "display_name", default="")
@click.password_option(help="prompted for when not given")
@pass_context
def create_user_command(ctx: Context, login: str, role: str, coop: str | None, display_name: str,
                        password: str) -> None:
    """Add a login."""
    with ctx.session() as session:
        user = or_fail(lambda: create_user(session, UserDraft(login, role, display_name, coop, True, password)))
    click.echo(f"user {user.login} ({user.role}) created")


@cli.command("create-token")
@click.argument("login")
@click.option("--name", default="cli", show_default=True, help="what the token is for")
@pass_context
def create_token_command(ctx: Context, login: str, name: str) -> None:
    """Issue an API token for LOGIN and print it once; only its digest is kept."""
    with ctx.session() as session:
        _, plain = or_fail(lambda: create_token(session, login, name))
    click.echo(plain)


@cli.command("list-tokens")
@click.argument("login")
@pass_context
def list_tokens_command(ctx: Context, login: str) -> None:
    """List LOGIN's API tokens: id, name, prefix, last use, revoked."""
    with ctx.session() as session:
        for token in or_fail(lambda: list_tokens(session, login)):
            used = token.last_used_at.strftime("%Y-%m-%d %H:%M") if token.last_used_at else "never"
            state = "revoked" if token.revoked_at else "active"
            click.echo(f"{token.id:>5}  {token.prefix}…  {state:<8} last used {used:<16}  {token.name}")


@cli.command("revoke-token")
@click.argument("token_id", type=int)
@pass_context
def revoke_token_command(ctx: Context, token_id: int) -> None:
    """Revoke the API token TOKEN_ID (see list-tokens); requests with it then get 401."""
    with ctx.session() as session:
        token = or_fail(lambda: revoke_token(session, token_id))
        click.echo(f"token {token.id} ({token.name}) of {token.user.login} is revoked")


from factory.cli_ledger import COMMANDS as LEDGER_COMMANDS  # noqa: E402  (commands that need the group defined above)
from factory.cli_plan import COMMANDS as PLAN_COMMANDS  # noqa: E402
from factory.cli_telemetry import COMMANDS  # noqa: E402

for command in COMMANDS + PLAN_COMMANDS + LEDGER_COMMANDS:
    cli.add_command(command)


def main() -> None:
    sys.exit(cli.main(prog_name="factory", standalone_mode=True))
