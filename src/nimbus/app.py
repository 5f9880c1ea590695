"""`create_app(settings)`: the FastAPI application; its lifespan builds and closes everything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from nimbus import handlers, maintenance
from nimbus.chat.router import router as chat_router
from nimbus.compat.legacy import router as legacy_router
from nimbus.compat.openai_api import router as openai_router
from nimbus.config import Settings
from nimbus.db import migrate
from nimbus.db.base import utcnow
from nimbus.db.engine import Database
from nimbus.db.provision import provision
from nimbus.health.router import router as health_router
from nimbus.knowledge.embeddings import build_embedder
from nimbus.knowledge.jobs import IngestionRunner
from nimbus.knowledge.router import router as knowledge_router
from nimbus.knowledge.types import Embedder
from nimbus.limits import BodySizeLimit
from nimbus.llm.factory import build_chat_model
from nimbus.llm.router import router as model_router
from nimbus.observability import configure_logging
from nimbus.sessions.router import router as sessions_router
from nimbus.state import AppState
from nimbus.storage.base import BlobStore
from nimbus.storage.factory import build_blob_store
from nimbus.version import get_version

log = logging.getLogger(__name__)

MIN_BODY_BYTES = 1 << 20


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@dataclass(frozen=True, slots=True)
class Components:
    """Parts a caller may supply ready-made instead of having the app build them (e.g. a loaded embedder)."""

    embedder: Embedder | None = None
    blobs: BlobStore | None = None


def _warm_up(embedder: Embedder) -> None:
    """Load the embedding model in the background so the first upload or question does not wait for it.

    A daemon thread: a server stopped while the model is still loading exits at once instead of waiting.
    """

    def load() -> None:
        try:
            embedder.load()
        except Exception:  # the first real use reports the failure to whoever needs the model
            log.warning("could not preload the embedding model", exc_info=True)

    threading.Thread(target=load, name="embedder-load", daemon=True).start()


def _lifespan(settings: Settings, components: Components):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            provisioned = await asyncio.to_thread(provision, settings)
            stack.push_async_callback(asyncio.to_thread, provisioned.close)
            if settings.database.migrate_on_start:
                await asyncio.to_thread(migrate.upgrade, provisioned.url)
            database = Database.connect(provisioned.url, settings.database)
            stack.push_async_callback(database.dispose)
            chat_model = await asyncio.to_thread(build_chat_model, settings.llm, settings.server.data_dir)
            stack.push_async_callback(chat_model.aclose)
            embedder = components.embedder or build_embedder(settings.knowledge, settings.llm)
            if components.embedder is None:
                stack.callback(embedder.close)
            _warm_up(embedder)
            blobs = components.blobs or build_blob_store(settings.server.data_dir)
            ingestion = IngestionRunner(database, settings, embedder, blobs)
            ingestion.start()
            stack.push_async_callback(ingestion.stop)
            app.state.nimbus = AppState(settings, database, chat_model, embedder, blobs, ingestion, started_at=utcnow())
            interval = settings.sessions.cleanup_interval_seconds
            cleanup = asyncio.create_task(maintenance.cleanup_forever(database, interval), name="cleanup")
            stack.push_async_callback(_cancel, cleanup)
            log.info("Nimbus %s ready (model %s:%s)", get_version(), chat_model.provider, chat_model.model)
            yield
        log.info("Nimbus stopped")

    return lifespan


def create_app(settings: Settings, components: Components | None = None) -> FastAPI:
    """Build the application; nothing is started until its lifespan runs."""
    configure_logging(settings.server.log_level)
    app = FastAPI(
        title="Nimbus",
        version=get_version(),
        description="Chat with your own documents and videos. Authenticate with `Authorization: Bearer <token>` "
        "from `POST /api/v1/sessions`.",
        lifespan=_lifespan(settings, components or Components()),
    )
    handlers.install(app)
    routers = (health_router, legacy_router, sessions_router, chat_router, knowledge_router, model_router)
    for router in (*routers, openai_router):
        app.include_router(router)
    max_body = max(MIN_BODY_BYTES, settings.chat.max_message_chars * 8)
    # Uploads may be large (multipart overhead on top of the file limit); everything else stays small.
    uploads = {"/api/v1/documents": (settings.knowledge.max_upload_mb << 20) + MIN_BODY_BYTES}
    app.add_middleware(BodySizeLimit, max_bytes=max_body, overrides=uploads)
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials=True,
        )
    return app
