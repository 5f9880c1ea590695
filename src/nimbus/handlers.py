"""Exception handlers: every error leaves as `{"error": {"code", "message", "type"}}` with its status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from nimbus.db.errors import DatabaseUnavailable
from nimbus.errors import NimbusError

log = logging.getLogger(__name__)


def _json(error: NimbusError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)


async def _nimbus_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NimbusError)
    return _json(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        fields.append(f"{where}: {error.get('msg', 'invalid')}")
    body = {
        "error": {
            "code": "invalid_request",
            "type": "invalid_request",
            "message": "; ".join(fields) or "Invalid request.",
            "fields": [
                {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
                for error in exc.errors()
            ],
        }
    }
    return JSONResponse(body, status_code=422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    body = {"error": {"code": code, "type": code, "message": str(exc.detail)}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc.__class__.__name__, exc_info=exc)
    return _json(DatabaseUnavailable())


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return _json(NimbusError())


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(NimbusError, _nimbus_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for database_error in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(database_error, _database_error)
    app.add_exception_handler(Exception, _unexpected)
