"""Telling a co-op what happened to its machine time, in the app: one message to all its members."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factory.models import Notification, User, utcnow

SHOWN = 100


def notify(session: Session, coop_id: int, subject: str, body: str = "", link: str = "") -> Notification:
    """Add a message for `coop_id`'s members; it is stored with the caller's transaction."""
    notification = Notification(coop_id=coop_id, subject=subject[:200], body=body, link=link[:300])
    session.add(notification)
    return notification


def for_user(session: Session, user: User, limit: int = SHOWN) -> list[Notification]:
    """The newest messages of the user's co-op (none for a user without one)."""
    if user.coop_id is None:
        return []
    return list(session.scalars(select(Notification).where(Notification.coop_id == user.coop_id)
                                .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def unread_count(session: Session, user: User) -> int:
    if user.coop_id is None:
        return 0
    query = select(func.count()).select_from(Notification).where(Notification.coop_id == user.coop_id)
    if user.notifications_seen_at is not None:
        query = query.where(Notification.created_at > user.notifications_seen_at)
    return session.scalar(query) or 0


def mark_seen(session: Session, user: User) -> None:
    user.notifications_seen_at = utcnow()
    session.commit()
