"""What the app builds at start-up and hands to requests (never module globals)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from nimbus.config import Settings
from nimbus.db.engine import Database
from nimbus.llm.base import ChatModel, GenerationParams

if TYPE_CHECKING:
    from nimbus.knowledge.jobs import IngestionRunner
    from nimbus.knowledge.types import Embedder
    from nimbus.storage.base import BlobStore


@dataclass(slots=True)
class AppState:
    """Long-lived objects owned by the app's lifespan."""

    settings: Settings
    database: Database
    chat_model: ChatModel
    embedder: Embedder
    blobs: BlobStore
    ingestion: IngestionRunner
    started_at: datetime

    def generation_params(self) -> GenerationParams:
        """Sampling parameters from the LLM settings."""
        llm = self.settings.llm
        return GenerationParams(temperature=llm.temperature, max_tokens=llm.max_tokens)


def get_state(request: Request) -> AppState:
    """The app state built by the lifespan."""
    state: AppState = request.app.state.nimbus
    return state


State = Annotated[AppState, Depends(get_state)]
