"""Authentication failures."""

from __future__ import annotations

from nimbus.errors import NimbusError


class Unauthorized(NimbusError):
    """Missing, unknown or expired session token."""

    status_code = 401
    code = "unauthorized"
    default_message = "A valid session token is required (Authorization: Bearer <token>)."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})
