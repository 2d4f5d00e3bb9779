"""Who may open which page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from factory.domain.vocabulary import Role


def require_role(*roles: Role) -> Callable:
    """Log in first; then a user without one of `roles` gets 403."""
    allowed = {role.value for role in roles}

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def guarded(*args, **kwargs):
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


registry_keepers = require_role(Role.ADMIN, Role.STEWARD)
admins = require_role(Role.ADMIN)


def actor() -> str:
    """How the current user is named in histories: `role:login`, at most 32 characters."""
    return f"{current_user.role}:{current_user.login}"[:32]
