"""Logins: create, edit, authenticate. Passwords are stored as salted scrypt hashes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.identifiers import check_login
from factory.domain.vocabulary import Role
from factory.models import User, utcnow
from factory.services.coops import get_coop

MIN_PASSWORD = 8
PASSWORD_METHOD = "scrypt"  # werkzeug's default; the test suite lowers the cost (tests/conftest.py)
# Checked against when a login does not exist, so a wrong login costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-password")


@dataclass(frozen=True)
class UserDraft:
    login: str
    role: str
    display_name: str = ""
    coop: str | None = None
    active: bool = True
    password: str | None = None  # None on edit: keep the current password


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.login)))


def get_user(session: Session, login: str) -> User:
    user = session.scalars(select(User).where(User.login == login)).one_or_none()
    if user is None:
        raise NotFound(f"no user {login!r}", field="login")
    return user


def create_user(session: Session, draft: UserDraft) -> User:
    login = check_login(draft.login)
    if session.scalars(select(User.id).where(User.login == login)).first() is not None:
        raise Conflict(f"the login {login!r} is taken", field="login")
    if draft.password is None:
        raise InvalidInput("a new user needs a password", field="password")
    user = User(login=login)
    _apply(session, user, draft)
    session.add(user)
    session.commit()
    return user


def update_user(session: Session, login: str, draft: UserDraft) -> User:
    user = get_user(session, login)
    _apply(session, user, draft)
    session.commit()
    return user


def change_password(session: Session, login: str, current: str, new: str) -> User:
    """A user changes their own password, proving they know the current one."""
    user = get_user(session, login)
    if not check_password_hash(user.password_hash, current or ""):
        raise InvalidInput("this is not your current password", field="current_password")
    if len(new or "") < MIN_PASSWORD:
        raise InvalidInput(f"at least {MIN_PASSWORD} characters", field="new_password")
    user.password_hash = generate_password_hash(new, method=PASSWORD_METHOD)
    session.commit()
    return user


def authenticate(session: Session, login: str, password: str) -> User | None:
    """The active user with this login and password, or None; never says which part was wrong."""
    user = session.scalars(select(User).where(User.login == (login or "").strip().lower())).one_or_none()
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    user.last_login_at = utcnow()
    session.commit()
    return user


def _apply(session: Session, user: User, draft: UserDraft) -> None:
    try:
        role = Role(draft.role)
    except ValueError:
        raise InvalidInput("role must be admin, steward or member", field="role") from None
    if role is Role.MEMBER and not draft.coop:
        raise InvalidInput("a member belongs to a co-op", field="coop")
    user.role = role.value
    user.coop = get_coop(session, draft.coop) if draft.coop else None
    user.display_name = (draft.display_name or "").strip()[:120]
    user.active = draft.active
    if draft.password is not None:
        if len(draft.password) < MIN_PASSWORD:
            raise InvalidInput(f"at least {MIN_PASSWORD} characters", field="password")
        user.password_hash = generate_password_hash(draft.password, method=PASSWORD_METHOD)
