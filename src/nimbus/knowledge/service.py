"""Documents: accept uploads and links, report progress, select per chat, delete or cancel."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.chat import service as chat_service
from nimbus.db.base import utcnow
from nimbus.db.engine import Database
from nimbus.knowledge.errors import DocumentNotFound, EmptyUpload, UploadTooLarge
from nimbus.knowledge.links import canonical_link
from nimbus.knowledge.locks import job_lock_key
from nimbus.knowledge.models import IN_PROGRESS, Document, DocumentStatus, SourceKind
from nimbus.knowledge.repository import DocumentRepository
from nimbus.knowledge.schemas import DocumentOut
from nimbus.storage.base import BlobStore

NAME_LIMIT = 500


def document_out(document: Document, *, duplicate: bool = False) -> DocumentOut:
    """The wire view of a document, with its progress as a fraction."""
    return DocumentOut(
        id=document.id,
        name=document.name,
        kind=document.kind,
        source_url=document.source_url,
        media_type=document.media_type,
        size_bytes=document.size_bytes,
        status=document.status,
        progress=progress_of(document),
        pages=document.pages_total,
        pages_done=document.pages_done,
        chunks=document.chunks_done,
        error=document.error,
        timings=document.timings or {},
        duplicate=duplicate,
        created_at=document.created_at,
        finished_at=document.finished_at,
    )


def progress_of(document: Document) -> float:
    """From 0 to 1: pages indexed of a PDF, otherwise the share of the source text indexed."""
    if document.status in (DocumentStatus.READY, DocumentStatus.NO_TEXT):
        return 1.0
    if document.pages_total:
        return min(1.0, document.pages_done / document.pages_total)
    value = (document.details or {}).get("progress", 0.0)
    return min(1.0, max(0.0, float(value)))


async def owned_document(db: AsyncSession, document_id: uuid.UUID, session_id: uuid.UUID) -> Document:
    """The session's document, or DocumentNotFound."""
    document = await DocumentRepository(db).get_owned(document_id, session_id)
    if document is None:
        raise DocumentNotFound
    return document


def _hash_stream(stream: BinaryIO, max_bytes: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while block := stream.read(1 << 20):
        size += len(block)
        if size > max_bytes:
            raise UploadTooLarge(f"The file is larger than the {max_bytes // (1 << 20)} MiB limit.")
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest(), size


async def add_upload(
    db: AsyncSession,
    blobs: BlobStore,
    session_id: uuid.UUID,
    filename: str | None,
    stream: BinaryIO,
    chat_id: uuid.UUID | None,
    max_bytes: int,
) -> tuple[Document, bool]:
    """Store an uploaded file and queue it; an identical file already in the session is returned instead."""
    if chat_id is not None:
        await chat_service.owned_chat(db, chat_id, session_id)
    sha256, size = await anyio.to_thread.run_sync(_hash_stream, stream, max_bytes)
    if size == 0:
        raise EmptyUpload
    repository = DocumentRepository(db)
    existing = await repository.find_duplicate(session_id, content_sha256=sha256)
    if existing is not None:
        await _attach(repository, chat_id, existing)
        return existing, True
    key = f"{session_id}/{sha256}"
    await anyio.to_thread.run_sync(blobs.put, key, stream)
    name = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:NAME_LIMIT] or "upload"
    document = Document(
        session_id=session_id,
        name=name,
        kind=SourceKind.FILE,
        size_bytes=size,
        content_sha256=sha256,
        blob_key=key,
        status=DocumentStatus.QUEUED,
    )
    await repository.add(document)
    await _attach(repository, chat_id, document)
    return document, False


async def add_link(
    db: AsyncSession, session_id: uuid.UUID, kind: str, raw_url: str, chat_id: uuid.UUID | None
) -> tuple[Document, bool]:
    """Queue a YouTube video or a web page (`kind` "youtube" or "web"); a repeat returns the existing one."""
    if chat_id is not None:
        await chat_service.owned_chat(db, chat_id, session_id)
    source_kind, url, name = canonical_link(kind, raw_url)
    repository = DocumentRepository(db)
    existing = await repository.find_duplicate(session_id, source_url=url)
    if existing is not None:
        await _attach(repository, chat_id, existing)
        return existing, True
    document = Document(
        session_id=session_id, name=name[:NAME_LIMIT], kind=source_kind, source_url=url, status=DocumentStatus.QUEUED
    )
    await repository.add(document)
    await _attach(repository, chat_id, document)
    return document, False


async def _attach(repository: DocumentRepository, chat_id: uuid.UUID | None, document: Document) -> None:
    if chat_id is not None:
        await repository.attach(chat_id, document.id)


@dataclass(frozen=True, slots=True)
class OriginalFile:
    """A local copy of a document's original file, valid until `release` is called."""

    path: Path
    name: str
    media_type: str
    release: Callable[[], None]  # blocking: ends the store's hold (a remote store deletes its download)


async def original_file(
    database: Database, blobs: BlobStore, document_id: uuid.UUID, session_id: uuid.UUID
) -> OriginalFile:
    """The session's document's original file (only uploads have one).

    The document is looked up in a transaction of its own, closed before the blob store is read: a remote
    store downloads the file, and no pool connection should wait on that.
    """
    async with database.transaction() as db:
        document = await owned_document(db, document_id, session_id)
    if document.blob_key is None:
        raise DocumentNotFound("This document has no stored file.")
    hold = ExitStack()
    try:
        path = await anyio.to_thread.run_sync(hold.enter_context, blobs.local_path(document.blob_key))
    except FileNotFoundError:
        raise DocumentNotFound("This document has no stored file.") from None
    media_type = document.media_type or "application/octet-stream"
    return OriginalFile(path, document.name, media_type, hold.close)


async def list_documents(db: AsyncSession, session_id: uuid.UUID) -> Sequence[Document]:
    """The session's documents, newest first."""
    return await DocumentRepository(db).list_for_session(session_id)


async def remove_document(db: AsyncSession, blobs: BlobStore, document: Document) -> bool:
    """Delete a document now, or, while a job is ingesting it, mark it cancelled for the job to clean up.

    Returns True when deleted, False when the running job will finish the removal.
    """
    if document.status in IN_PROGRESS:
        # The job holds the document's advisory lock while it runs; if we can take it, no job is running.
        free = await db.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": job_lock_key(document.id)})
        if not free:
            document.status = DocumentStatus.CANCELLED
            document.updated_at = utcnow()
            await db.flush()
            return False
    repository = DocumentRepository(db)
    blob_key = document.blob_key
    await repository.delete(document)
    if blob_key and not await repository.blob_in_use(blob_key, document.id):
        await anyio.to_thread.run_sync(blobs.delete, blob_key)
    return True


async def select_for_chat(
    db: AsyncSession, session_id: uuid.UUID, chat_id: uuid.UUID, document_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Restrict a chat to these documents (empty: the whole library)."""
    await chat_service.owned_chat(db, chat_id, session_id)
    repository = DocumentRepository(db)
    owned = await repository.owned_ids(session_id, document_ids)
    if missing := [d for d in document_ids if d not in owned]:
        raise DocumentNotFound(f"Document {missing[0]} not found.")
    await repository.set_chat_documents(chat_id, document_ids)
    return list(dict.fromkeys(document_ids))


async def chat_selection(db: AsyncSession, session_id: uuid.UUID, chat_id: uuid.UUID) -> list[uuid.UUID]:
    """The chat's selected documents."""
    await chat_service.owned_chat(db, chat_id, session_id)
    return await DocumentRepository(db).chat_document_ids(chat_id)
