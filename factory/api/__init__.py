"""JSON API under /api/v1 (DESIGN.md 4.4): bearer tokens, errors as {"error": {code, message, field?}}."""

from __future__ import annotations

from flask import Blueprint, g, request

from factory.app import db
from factory.domain.errors import Unauthorized
from factory.services.tokens import user_for_token

api = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = {"api.openapi"}


@api.before_request
def authenticate():
    if request.endpoint in PUBLIC:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send `Authorization: Bearer TOKEN`; `factory create-token LOGIN` issues one")
    g.api_user = user_for_token(db(), token.strip())
    return None


@api.after_request
def challenge(response):
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="microfactory"'
    response.headers.setdefault("Cache-Control", "no-store")
    return response


from factory.api import (  # noqa: E402,F401  (routes register on import)
    bookings,
    designs,
    leases,
    ledger,
    machines,
    maintenance,
    openapi,
    orders,
    plan,
    stock,
    telemetry,
)
