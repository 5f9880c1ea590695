"""OpenAPI documentation of error responses, so the spec lists every error a route can return."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from nimbus.errors import NimbusError


class ErrorDetail(BaseModel):
    code: str
    message: str
    type: str


class ErrorBody(BaseModel):
    """Every error response: `{"error": {"code", "message", "type"}}`."""

    error: ErrorDetail


COMMON: dict[int, str] = {
    401: "Missing, unknown or expired session token.",
    422: "The request is malformed; `error.message` lists the fields.",
    503: "The database is unavailable.",
}


def error_responses(*errors: type[NimbusError], common: bool = True) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the given domain errors (plus the errors every endpoint can return)."""
    described: dict[int, list[str]] = {}
    if common:
        for status, text in COMMON.items():
            described.setdefault(status, []).append(text)
    for error in errors:
        described.setdefault(error.status_code, []).append(f"`{error.code}`: {error.default_message}")
    return {
        status: {"model": ErrorBody, "description": " / ".join(texts)} for status, texts in sorted(described.items())
    }
