"""The Flask application factory: wires settings, the database, login, CSRF and the blueprints."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

from factory.db import make_engine, make_sessionmaker
from factory.models import User
from factory.settings import Settings

EXTENSION = "factory"


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(SECRET_KEY=settings.secret_key, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", WTF_CSRF_TIME_LIMIT=None, PLAN_SECONDS=settings.plan_seconds)
    app.config.update(overrides)
    engine = make_engine(settings.database_url)
    app.extensions[EXTENSION] = {"settings": settings, "engine": engine, "sessions": make_sessionmaker(engine)}

    csrf = CSRFProtect(app)
    _init_login(app)
    app.teardown_appcontext(_close_session)

    from factory.api import api
    from factory.web import (
        account,
        auth,
        bookings,
        calendar,
        catalogue,
        design_admin,
        errors,
        filters,
        inventory,
        leases,
        ledger,
        machines,
        maintenance,
        metrics,
        notifications,
        orders,
        plan,
        registry,
    )

    csrf.exempt(api)  # the API authenticates every request with a bearer token, not a cookie

    filters.register(app)
    errors.register(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(machines.bp)
    app.register_blueprint(calendar.bp)
    app.register_blueprint(registry.bp)
    app.register_blueprint(bookings.bp)
    app.register_blueprint(leases.bp)
    app.register_blueprint(maintenance.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(catalogue.bp)
    app.register_blueprint(design_admin.bp)
    app.register_blueprint(orders.bp)
    app.register_blueprint(inventory.bp)
    app.register_blueprint(plan.bp)
    app.register_blueprint(ledger.bp)
    app.register_blueprint(api)
    return app


def db() -> Session:
    """The request's session, opened on first use and closed when the request ends."""
    if "db" not in g:
        g.db = current_app.extensions[EXTENSION]["sessions"]()
    return g.db


def settings() -> Settings:
    return current_app.extensions[EXTENSION]["settings"]


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def _init_login(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = "Please log in to see that page."
    manager.login_message_category = "info"

    @manager.user_loader
    def load_user(user_id: str) -> Any:
        user = db().get(User, int(user_id)) if user_id.isdigit() else None
        return SignedIn(user) if user is not None and user.active else None


class SignedIn:
    """Flask-Login's view of a User; keeps flask_login out of the models."""

    def __init__(self, user):
        self.user = user
        self.is_authenticated, self.is_active, self.is_anonymous = True, user.active, False

    def get_id(self) -> str:
        return str(self.user.id)

    def __getattr__(self, name: str):
        return getattr(self.user, name)
