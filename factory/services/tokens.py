"""API bearer tokens: shown once, stored as a SHA-256 digest, revocable, with last use recorded."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from factory.domain.errors import InvalidInput, NotFound, Unauthorized
from factory.models import ApiToken, User, utcnow
from factory.services.users import get_user

PREFIX = "mf_"
# Writing last_used_at on every request would make each read a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_token(session: Session, login: str, name: str) -> tuple[ApiToken, str]:
    """Issue a token for `login`; returns the row and the token text, which is never stored."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise InvalidInput("give the token a name of 1 to 80 characters", field="name")
    user = get_user(session, login)
    plain = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, prefix=plain[:10], token_hash=_digest(plain))
    session.add(token)
    session.commit()
    return token, plain


def user_for_token(session: Session, plain: str) -> User:
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(plain))).one_or_none()
    if token is None or token.revoked_at is not None or not token.user.active:
        raise Unauthorized("the bearer token is unknown, revoked, or its user is disabled")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.commit()
    return token.user


def list_tokens(session: Session, login: str) -> list[ApiToken]:
    user = get_user(session, login)
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())))


def revoke_token(session: Session, token_id: int, *, owner: str | None = None) -> ApiToken:
    """Revoke a token; with `owner`, only a token of that login (someone else's reads as not found)."""
    token = session.get(ApiToken, token_id)
    if token is None or (owner is not None and token.user.login != owner):
        raise NotFound(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.commit()
    return token


def _digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()
