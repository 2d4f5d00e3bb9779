"""HTTP errors as pages for people and as JSON (DESIGN.md 4.4) under /api/."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from factory.domain.errors import DomainError


def error_body(code: str, message: str, field: str | None = None) -> dict:
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/metrics"))


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        if _wants_json():
            body = error_body(exc.code, exc.message, exc.field)
            body["error"].update(exc.details())
            return jsonify(body), exc.status
        return render_template("errors/error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = "The form expired or was not sent from this site; reload the page and try again."
        return render_template("errors/error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        if _wants_json():
            return jsonify(error_body(code, exc.description or exc.name)), exc.code
        return render_template("errors/error.html", status=exc.code, message=exc.description), exc.code
