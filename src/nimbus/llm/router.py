"""`GET /api/v1/model`: which model answers, and whether it can now."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from nimbus.openapi import error_responses
from nimbus.sessions.deps import CurrentSession
from nimbus.state import State

router = APIRouter(prefix="/api/v1", tags=["model"], responses=error_responses())


class ModelOut(BaseModel):
    provider: Literal["local", "openai"] | str
    model: str
    ready: bool
    detail: str


@router.get("/model")
async def model_info(state: State, _: CurrentSession) -> ModelOut:
    """The configured provider and model, and whether it can answer now."""
    model = state.chat_model
    status = await model.status()
    return ModelOut(provider=model.provider, model=model.model, ready=status.ready, detail=status.detail)
