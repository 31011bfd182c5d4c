"""Errors of the read side. Every one becomes a JSON answer naming what was wrong."""

from __future__ import annotations

from ..errors import PadsStreamError


class ApiError(PadsStreamError):
    """Root of the HTTP API's errors: `status` is the HTTP status, `param` the parameter at fault."""

    status = 500

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def body(self) -> dict[str, object]:
        out: dict[str, object] = {"error": self.message}
        if self.param is not None:
            out["param"] = self.param
        return out


class BadRequest(ApiError):
    """A parameter is missing, malformed or out of range (400)."""

    status = 400


class NotFound(ApiError):
    """The token (or symbol) is not known on this chain (404)."""

    status = 404


class Unauthorized(ApiError):
    """API_KEYS is set and the request has no valid X-API-Key (401)."""

    status = 401


class Unavailable(ApiError):
    """Redis did not answer (503); retrying can help."""

    status = 503
    retriable = True
