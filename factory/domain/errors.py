"""Domain errors. Each crosses into HTTP exactly once, in the API and web error handlers."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def details(self) -> dict:
        """More for the API's error object than code, message and field (plain JSON values)."""
        return {}


class InvalidInput(DomainError):
    code = "invalid"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class BookingConflict(Conflict):
    """The time is held by something else: `conflicts` says what, `suggestions` offers free slots instead
    (both lists of JSON objects, as the API sends them)."""

    code = "booking_conflict"

    def __init__(self, message: str, *, conflicts: list[dict], suggestions: list[dict] | None = None,
                 field: str | None = "starts_at", code: str | None = None):
        super().__init__(message, field=field, code=code)
        self.conflicts = conflicts
        self.suggestions = suggestions or []

    def details(self) -> dict:
        return {"conflicts": self.conflicts, "suggestions": self.suggestions}


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401


class InvalidParameter(DomainError):
    """A malformed query parameter or request body, as opposed to a rule the values break."""

    code = "invalid_parameter"
    status = 400
