"""Domain errors carry their HTTP status; one handler renders them as `{"error": {...}}`."""

from __future__ import annotations

from typing import Any, ClassVar


class NimbusError(Exception):
    """Base of every error the API reports on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Internal error."

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON error body (OpenAI-style `error.message`/`error.type` so its SDK reads it too)."""
        return {"error": {"code": self.code, "message": self.message, "type": self.code}}


class NotFound(NimbusError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class PayloadTooLarge(NimbusError):
    status_code = 413
    code = "payload_too_large"
    default_message = "Payload too large."


class ServiceUnavailable(NimbusError):
    status_code = 503
    code = "service_unavailable"
    default_message = "Service unavailable."
