"""`create_app(settings)`: the FastAPI application; its lifespan builds and closes everything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

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
from nimbus.limits import BodySizeLimit
from nimbus.llm.factory import build_chat_model
from nimbus.llm.router import router as model_router
from nimbus.observability import configure_logging
from nimbus.sessions.router import router as sessions_router
from nimbus.state import AppState
from nimbus.version import get_version

log = logging.getLogger(__name__)

MIN_BODY_BYTES = 1 << 20


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _lifespan(settings: Settings):  # type: ignore[no-untyped-def]
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
            app.state.nimbus = AppState(settings, database, chat_model, started_at=utcnow())
            interval = settings.sessions.cleanup_interval_seconds
            cleanup = asyncio.create_task(maintenance.cleanup_forever(database, interval), name="cleanup")
            stack.push_async_callback(_cancel, cleanup)
            log.info("Nimbus %s ready (model %s:%s)", get_version(), chat_model.provider, chat_model.model)
            yield
        log.info("Nimbus stopped")

    return lifespan


def create_app(settings: Settings) -> FastAPI:
    """Build the application; nothing is started until its lifespan runs."""
    configure_logging(settings.server.log_level)
    app = FastAPI(
        title="Nimbus",
        version=get_version(),
        description="Chat with your own documents and videos. Authenticate with `Authorization: Bearer <token>` "
        "from `POST /api/v1/sessions`.",
        lifespan=_lifespan(settings),
    )
    handlers.install(app)
    for router in (health_router, legacy_router, sessions_router, chat_router, model_router, openai_router):
        app.include_router(router)
    max_body = max(MIN_BODY_BYTES, settings.chat.max_message_chars * 8)
    app.add_middleware(BodySizeLimit, max_bytes=max_body)
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials=True,
        )
    return app
