"""Queries on documents and on which documents a chat uses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.knowledge.models import ChatDocument, Document, DocumentStatus

LIVE = (
    DocumentStatus.QUEUED,
    DocumentStatus.PARSING,
    DocumentStatus.EMBEDDING,
    DocumentStatus.READY,
    DocumentStatus.NO_TEXT,
)


class DocumentRepository:
    """Typed access to documents, always scoped to a session."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get_owned(self, document_id: uuid.UUID, session_id: uuid.UUID) -> Document | None:
        """The document if this session owns it."""
        query = select(Document).where(Document.id == document_id, Document.session_id == session_id)
        return await self.db.scalar(query)

    async def get(self, document_id: uuid.UUID, *, lock: bool = False) -> Document | None:
        """A document by id (for the ingestion job), optionally locked for update."""
        query = select(Document).where(Document.id == document_id)
        if lock:
            query = query.with_for_update()
        return await self.db.scalar(query)

    async def list_for_session(self, session_id: uuid.UUID) -> Sequence[Document]:
        """The session's documents, newest first."""
        query = select(Document).where(Document.session_id == session_id).order_by(Document.created_at.desc())
        return (await self.db.scalars(query)).all()

    async def find_duplicate(
        self, session_id: uuid.UUID, *, content_sha256: str | None = None, source_url: str | None = None
    ) -> Document | None:
        """A live document of the session with the same content hash or source."""
        query = select(Document).where(Document.session_id == session_id, Document.status.in_(LIVE))
        if content_sha256 is not None:
            query = query.where(Document.content_sha256 == content_sha256)
        elif source_url is not None:
            query = query.where(Document.source_url == source_url)
        else:
            return None
        return await self.db.scalar(query.order_by(Document.created_at).limit(1))

    async def add(self, document: Document) -> None:
        """Insert a document."""
        self.db.add(document)
        await self.db.flush()

    async def delete(self, document: Document) -> None:
        """Delete a document; chunks, postings and chat links cascade."""
        await self.db.delete(document)
        await self.db.flush()

    async def blob_in_use(self, blob_key: str, other_than: uuid.UUID) -> bool:
        """Whether another document still refers to this blob."""
        query = select(func.count()).where(Document.blob_key == blob_key, Document.id != other_than)
        return bool(await self.db.scalar(query))

    async def chat_document_ids(self, chat_id: uuid.UUID) -> list[uuid.UUID]:
        """The documents a chat is restricted to (empty: the whole library)."""
        query = select(ChatDocument.document_id).where(ChatDocument.chat_id == chat_id)
        return list((await self.db.scalars(query)).all())

    async def set_chat_documents(self, chat_id: uuid.UUID, document_ids: Sequence[uuid.UUID]) -> None:
        """Replace the chat's document selection."""
        await self.db.execute(delete(ChatDocument).where(ChatDocument.chat_id == chat_id))
        self.db.add_all(ChatDocument(chat_id=chat_id, document_id=d) for d in dict.fromkeys(document_ids))
        await self.db.flush()

    async def attach(self, chat_id: uuid.UUID, document_id: uuid.UUID) -> None:
        """Add one document to a chat's selection (idempotent)."""
        exists = await self.db.get(ChatDocument, (chat_id, document_id))
        if exists is None:
            self.db.add(ChatDocument(chat_id=chat_id, document_id=document_id))
            await self.db.flush()

    async def owned_ids(self, session_id: uuid.UUID, document_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these ids belong to the session."""
        query = select(Document.id).where(Document.session_id == session_id, Document.id.in_(document_ids))
        return set((await self.db.scalars(query)).all())

    async def in_scope(self, session_id: uuid.UUID, chat_id: uuid.UUID | None) -> Sequence[Document]:
        """The documents answering in a chat: its selection, else the whole session library."""
        query = select(Document).where(Document.session_id == session_id, Document.status.in_(LIVE))
        if chat_id is not None:
            selected = await self.chat_document_ids(chat_id)
            if selected:
                query = query.where(Document.id.in_(selected))
        return (await self.db.scalars(query.order_by(Document.created_at))).all()

    async def claimable(self, limit: int) -> Sequence[uuid.UUID]:
        """Documents waiting for (or abandoned by) an ingestion job, or cancelled but not yet removed."""
        in_progress = (
            DocumentStatus.QUEUED,
            DocumentStatus.PARSING,
            DocumentStatus.EMBEDDING,
            DocumentStatus.CANCELLED,
        )
        query = select(Document.id).where(Document.status.in_(in_progress)).order_by(Document.created_at).limit(limit)
        return (await self.db.scalars(query)).all()
