"""What every `factory` command shares: settings read once, a session on demand, domain errors as messages."""

from __future__ import annotations

import click
from sqlalchemy.engine import make_url

from factory import db as database
from factory.domain.errors import DomainError
from factory.settings import Settings


class Context:
    """Settings read once; the engine made only when a command needs it."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self._engine = None
        self._sessions = None

    def sessions(self):
        """The session factory, made on first use."""
        if self._sessions is None:
            self._engine = database.make_engine(self.settings.database_url)
            self._sessions = database.make_sessionmaker(self._engine)
        return self._sessions

    def session(self):
        return self.sessions()()

    def close(self) -> None:
        """Close the engine's pooled connections when the command ends (not at garbage collection)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = self._sessions = None


pass_context = click.make_pass_decorator(Context)


def or_fail(action):
    try:
        return action()
    except DomainError as exc:
        where = f" ({exc.field})" if exc.field else ""
        raise click.ClickException(f"{exc.message}{where}") from exc


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
