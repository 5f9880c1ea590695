"""`/healthz` (alive), `/readyz` (can serve), `/healthcheck` (the original, detailed)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from nimbus.health import service
from nimbus.state import State

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checks: dict[str, str]


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": HealthOut, "description": "Not ready."}})
async def readyz(state: State) -> JSONResponse:
    """Readiness: the database is reachable and migrated to head."""
    database = await service.database_check(state)
    body = HealthOut(status="ok" if database.ok else "down", checks={"database": database.detail})
    return JSONResponse(body.model_dump(), status_code=200 if database.ok else 503)


@router.get("/healthcheck", responses={503: {"model": HealthOut, "description": "The database is down."}})
async def healthcheck(state: State) -> JSONResponse:
    """`ok` when everything works, `degraded` when the model cannot answer, `down` without a database."""
    database = await service.database_check(state)
    llm = await service.llm_check(state)
    status: Literal["ok", "degraded", "down"] = "ok"
    if not database.ok:
        status = "down"
    elif not llm.ok:
        status = "degraded"
    body = HealthOut(status=status, checks={"database": database.detail, "llm": llm.detail})
    return JSONResponse(body.model_dump(), status_code=503 if status == "down" else 200)
