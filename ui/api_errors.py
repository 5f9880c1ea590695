"""Errors of the Nimbus API client, and turning error responses and odd payloads into them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import requests

_T = TypeVar("_T")
JsonObject = dict[str, Any]


class ApiError(Exception):
    """The API answered with an error, or could not be used at all."""

    def __init__(self, message: str, *, code: str = "api_error", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class BackendUnavailableError(ApiError):
    """No connection to the API could be made, or it dropped mid-answer."""


class UnauthorizedError(ApiError):
    """The session token is missing, unknown or expired."""


class NotFoundError(ApiError):
    """The chat or document does not exist or belongs to another session."""


def raise_for_status(response: requests.Response) -> None:
    """Raise the `ApiError` matching an error response; do nothing for a success."""
    if response.ok:
        return
    code, message = "http_error", f"The API answered {response.status_code} {response.reason}."
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        pass  # not our error envelope (a proxy page, say): keep the status line
    error_class = {401: UnauthorizedError, 404: NotFoundError}.get(response.status_code, ApiError)
    raise error_class(message, code=code, status=response.status_code)


def parsed(parse: Callable[[JsonObject], _T], data: Any) -> _T:
    """Apply `parse`, turning a response of the wrong shape into an `ApiError`."""
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(f"The API sent an unexpected response ({exc!r}).", code="invalid_response") from exc
