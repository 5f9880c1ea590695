"""One ingestion job: parse → chunk → embed → index, in bounded batches, with progress and cancellation.

Three stages overlap: a producer thread parses and chunks into a small queue, the embedder runs in a
second thread, and each embedded batch is written in its own short transaction while the next one embeds.
Memory stays bounded by a few batches whatever the document's size. A restarted job (after a crash)
first deletes whatever its predecessor wrote, then starts again: chunks are never duplicated.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.config import Settings
from nimbus.db.base import utcnow
from nimbus.db.engine import Database
from nimbus.knowledge import index
from nimbus.knowledge.chunking import chunk_sections
from nimbus.knowledge.models import IN_PROGRESS, Document, DocumentStatus
from nimbus.knowledge.repository import DocumentRepository
from nimbus.knowledge.sources import SourceRef, open_source
from nimbus.knowledge.types import ChunkDraft, Embedder, NoTextError, ParsedSource, Section, SourceError
from nimbus.storage.base import BlobStore

log = logging.getLogger(__name__)

BATCH_CHUNKS = 64
QUEUE_BATCHES = 2


class Cancelled(Exception):
    """The document was cancelled (or deleted) while it was being ingested."""


@dataclass(slots=True)
class Meta:
    """What the loader knows before the first chunk."""

    media_type: str
    title: str | None
    total_pages: int | None
    details: dict[str, str]


@dataclass(slots=True)
class Batch:
    """Chunks ready to embed, with how far into the source they reach."""

    chunks: list[ChunkDraft]
    pages_done: int
    progress: float


@dataclass(slots=True)
class Timings:
    parse: float = 0.0
    embed: float = 0.0
    index: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def as_dict(self) -> dict[str, float]:
        """Seconds per stage (they overlap) and in all, for the document's `timings`."""
        total = time.perf_counter() - self.started
        stages = {"parse": self.parse, "embed": self.embed, "index": self.index, "total": total}
        return {name: round(seconds, 3) for name, seconds in stages.items()}


_END = object()


class _Producer(threading.Thread):
    """Parses and chunks in its own thread, handing batches over a bounded queue."""

    def __init__(self, ref: SourceRef, blobs: BlobStore, settings: Settings, embedder: Embedder, timings: Timings):
        super().__init__(name="nimbus-parse", daemon=True)
        self.ref, self.blobs, self.settings, self.embedder, self.timings = ref, blobs, settings, embedder, timings
        self.out: queue.Queue[object] = queue.Queue(maxsize=QUEUE_BATCHES)
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with open_source(self.ref, self.blobs, self.settings.knowledge) as parsed:
                self._emit(Meta(parsed.media_type, parsed.title, parsed.total_pages, dict(parsed.details)))
                self._chunk(parsed)
            self._emit(_END)
        except Cancelled:
            return
        except BaseException as exc:  # handed to the consumer, which decides the document's fate
            try:
                self._emit(exc)
            except Cancelled:
                return

    def _chunk(self, parsed: ParsedSource) -> None:
        knowledge = self.settings.knowledge
        max_tokens = min(knowledge.chunk_tokens, self.embedder.max_tokens)
        position = _Position(parsed.total_pages)
        sections = position.track(parsed.sections)
        batch: list[ChunkDraft] = []
        started = time.perf_counter()
        for chunk in chunk_sections(sections, self.embedder.tokenizer, max_tokens, knowledge.chunk_overlap_tokens):
            batch.append(chunk)
            if len(batch) >= BATCH_CHUNKS:
                self.timings.parse += time.perf_counter() - started
                self._emit(Batch(batch, position.pages_done(chunk), position.fraction()))
                batch = []
                started = time.perf_counter()
        self.timings.parse += time.perf_counter() - started
        if batch:
            self._emit(Batch(batch, parsed.total_pages or 0, 1.0))

    def _emit(self, item: object) -> None:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise Cancelled


class _Position:
    """Tracks how far the chunker has read, for progress reporting."""

    def __init__(self, total_pages: int | None) -> None:
        self.total_pages = total_pages
        self.last_page = 0

    def track(self, sections: Iterable[Section]) -> Iterator[Section]:
        for section in sections:
            self.last_page = section.page or self.last_page
            yield section

    def pages_done(self, last_chunk: ChunkDraft) -> int:
        # Pages before the one the last chunk ends on are fully chunked.
        return max(0, (last_chunk.page_end or 1) - 1) if self.total_pages else 0

    def fraction(self) -> float:
        if self.total_pages:
            return min(0.99, self.last_page / self.total_pages)
        return 0.0


@dataclass(slots=True)
class Ingestion:
    """Runs the job for one claimed document."""

    database: Database
    settings: Settings
    embedder: Embedder
    blobs: BlobStore
    document_id: uuid.UUID
    on_progress: Callable[[], None] = lambda: None

    async def run(self) -> None:
        """Ingest the document, leaving it `ready`, `no_text`, `failed`, or gone if it was cancelled."""
        ref = await self._begin()
        if ref is None:
            return
        timings = Timings()
        try:
            chunks = await self._pipeline(ref, timings)
        except Cancelled:
            await self._purge()
            return
        except NoTextError as exc:
            await self._end(DocumentStatus.NO_TEXT, exc.message, timings)
            return
        except SourceError as exc:
            await self._end(DocumentStatus.FAILED, exc.message, timings)
            return
        except Exception as exc:
            log.exception("ingestion of %s failed", self.document_id)
            await self._end(DocumentStatus.FAILED, f"Indexing failed: {type(exc).__name__}: {exc}", timings)
            return
        if chunks == 0:
            await self._end(DocumentStatus.NO_TEXT, NoTextError.default_message, timings)
        else:
            await self._end(DocumentStatus.READY, None, timings)

    async def _begin(self) -> SourceRef | None:
        async with self.database.transaction() as db:
            document = await DocumentRepository(db).get(self.document_id, lock=True)
            if document is None or document.status not in (*IN_PROGRESS, DocumentStatus.CANCELLED):
                return None
            cancelled = document.status == DocumentStatus.CANCELLED
            if not cancelled:
                await self._reset(db, document)
            ref = SourceRef(document.kind, document.name, document.blob_key, document.source_url)
        if cancelled:
            await self._purge()
            return None
        return ref

    async def _reset(self, db: AsyncSession, document: Document) -> None:
        """Start (or restart after a crash) from nothing: whatever an earlier attempt wrote goes first."""
        if document.status != DocumentStatus.QUEUED or document.chunks_done:
            log.info("restarting interrupted ingestion of %s", document.id)
        await index.delete_document_index(db, document.id)
        now = utcnow()
        document.status = DocumentStatus.PARSING
        document.attempts += 1
        document.started_at = document.updated_at = now
        document.error = None
        document.pages_done = document.chunks_done = 0

    async def _pipeline(self, ref: SourceRef, timings: Timings) -> int:
        producer = _Producer(ref, self.blobs, self.settings, self.embedder, timings)
        producer.start()
        written = 0
        pending: asyncio.Task[int] | None = None
        try:
            while True:
                item = await asyncio.to_thread(producer.out.get)
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, Meta):
                    await self._describe(item)
                    continue
                assert isinstance(item, Batch)
                started = time.perf_counter()
                vectors = await asyncio.to_thread(self.embedder.embed_documents, [c.text for c in item.chunks])
                timings.embed += time.perf_counter() - started
                if pending is not None:
                    written += await pending
                pending = asyncio.create_task(self._write(item, vectors, timings))
            if pending is not None:
                written += await pending
                pending = None
        finally:
            producer.stop.set()
            if pending is not None:
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
        return written

    async def _describe(self, meta: Meta) -> None:
        async with self.database.transaction() as db:
            document = await self._locked(db)
            document.media_type = meta.media_type
            document.pages_total = meta.total_pages
            document.details = {**(document.details or {}), **meta.details}
            if meta.title and document.kind != "file":
                document.name = meta.title[:500]
            document.status = DocumentStatus.EMBEDDING
            document.updated_at = utcnow()

    async def _write(self, batch: Batch, vectors: list[list[float]], timings: Timings) -> int:
        started = time.perf_counter()
        async with self.database.transaction() as db:
            document = await self._locked(db)
            written = await index.index_chunks(
                db, document.id, batch.chunks, vectors, self.settings.knowledge.text_search_config
            )
            document.chunks_done += written
            document.pages_done = max(document.pages_done, batch.pages_done)
            document.details = {**(document.details or {}), "progress": round(batch.progress, 4)}
            document.updated_at = utcnow()
        timings.index += time.perf_counter() - started
        self.on_progress()
        return written

    async def _locked(self, db: AsyncSession) -> Document:
        document = await DocumentRepository(db).get(self.document_id, lock=True)
        if document is None or document.status == DocumentStatus.CANCELLED:
            raise Cancelled
        return document

    async def _end(self, status: DocumentStatus, error: str | None, timings: Timings) -> None:
        async with self.database.transaction() as db:
            document = await DocumentRepository(db).get(self.document_id, lock=True)
            if document is None:
                return
            cancelled = document.status == DocumentStatus.CANCELLED
            if not cancelled:
                document.status = status
                document.error = error
                if status == DocumentStatus.READY and document.pages_total:
                    document.pages_done = document.pages_total
                document.timings = timings.as_dict()
                document.finished_at = document.updated_at = utcnow()
        if cancelled:
            await self._purge()
        log.info("document %s: %s %s", self.document_id, status, timings.as_dict())

    async def _purge(self) -> None:
        """Remove a cancelled document with everything its job wrote."""
        async with self.database.transaction() as db:
            repository = DocumentRepository(db)
            document = await repository.get(self.document_id, lock=True)
            if document is None:
                return
            blob_key = document.blob_key
            await repository.delete(document)
            in_use = bool(blob_key) and await repository.blob_in_use(blob_key or "", self.document_id)
        if blob_key and not in_use:
            await asyncio.to_thread(self.blobs.delete, blob_key)
        log.info("document %s cancelled and removed", self.document_id)
