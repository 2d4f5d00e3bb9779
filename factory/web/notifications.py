"""What happened to a co-op's machine time, for its members: the list (opening it marks it seen) and the
unread count in the navigation."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from factory.app import db
from factory.services.notifications import for_user, mark_seen, unread_count

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@login_required
def index():
    user = current_user.user
    seen_before = user.notifications_seen_at
    shown = for_user(db(), user)
    fresh = {n.id for n in shown if seen_before is None or n.created_at > seen_before}
    if shown:
        mark_seen(db(), user)
    return render_template("notifications/index.html", notifications=shown, fresh=fresh)


@bp.app_context_processor
def unread_notifications() -> dict:
    """`unread_notifications` for base.html's nav: how many of the co-op's messages the user has not seen."""
    if not current_user.is_authenticated or current_user.coop_id is None:
        return {"unread_notifications": 0}
    return {"unread_notifications": unread_count(db(), current_user.user)}
