"""The ingestion runner: background workers inside the API process that claim and run document jobs.

A worker claims a document by taking its PostgreSQL advisory lock on a connection it keeps for the whole
job. Several replicas can run workers against one database; if a process dies, its connection and locks
go with it, and the job is picked up again (and restarted cleanly) by the next worker that polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from nimbus.config import Settings
from nimbus.db.engine import Database
from nimbus.knowledge.ingestion import Ingestion
from nimbus.knowledge.locks import job_lock_key
from nimbus.knowledge.repository import DocumentRepository
from nimbus.knowledge.types import Embedder
from nimbus.storage.base import BlobStore

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
CANDIDATES = 20


class IngestionRunner:
    """Owns the worker tasks; `notify()` wakes them when a new document is queued."""

    def __init__(self, database: Database, settings: Settings, embedder: Embedder, blobs: BlobStore) -> None:
        self.database = database
        self.settings = settings
        self.embedder = embedder
        self.blobs = blobs
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the configured number of workers (none when NIMBUS_INGEST_WORKERS=0)."""
        for number in range(self.settings.knowledge.ingest_workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"ingest-{number}"))

    def notify(self) -> None:
        """A document was queued: look for work now instead of at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop the workers; an interrupted job is resumed by the next start (or by another replica)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _work(self) -> None:
        while True:
            try:
                claimed = await self._claim()
            except Exception:
                log.exception("cannot look for ingestion jobs; retrying")
                claimed = None
            if claimed is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                continue
            document_id, connection = claimed
            try:
                job = Ingestion(self.database, self.settings, self.embedder, self.blobs, document_id)
                await job.run()
            except Exception:
                log.exception("ingestion job %s crashed", document_id)
            finally:
                await _release(connection, document_id)

    async def _claim(self) -> tuple[uuid.UUID, AsyncConnection] | None:
        async with self.database.transaction() as db:
            candidates = await DocumentRepository(db).claimable(CANDIDATES)
        if not candidates:
            return None
        connection = await self.database.engine.connect()
        try:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            for document_id in candidates:
                locked = await connection.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": job_lock_key(document_id)}
                )
                if locked:
                    return document_id, connection
        except BaseException:
            await connection.close()
            raise
        await connection.close()
        return None


async def _release(connection: AsyncConnection, document_id: uuid.UUID) -> None:
    try:
        await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": job_lock_key(document_id)})
    except Exception:
        log.warning("could not release the lock of %s; closing its connection releases it", document_id)
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
