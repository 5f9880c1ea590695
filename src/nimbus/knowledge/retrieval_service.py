"""Retrieval for a request: scope the documents, embed the query off the event loop, search, cite.

No database connection is held while the query is embedded: with a remote embedding provider that is a
network round trip (and, when the provider hangs, a timeout) that would otherwise pin a pool connection.
The documents in scope are read first, in the caller's transaction, and the search runs in a short one of
its own once the vector is known.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.knowledge import retrieval
from nimbus.knowledge.models import IN_PROGRESS, Document, DocumentStatus, SourceKind
from nimbus.knowledge.repository import DocumentRepository
from nimbus.knowledge.schemas import Citation, SearchHitOut
from nimbus.state import AppState

SNIPPET_CHARS = 600
Mode = Literal["hybrid", "vector", "lexical"]


@dataclass(frozen=True, slots=True)
class Grounding:
    """What a question found in the documents of its chat."""

    has_documents: bool
    hits: Sequence[SearchHitOut]
    pending: Sequence[Document]  # documents still being ingested (answered from what is ready)

    @property
    def citations(self) -> list[Citation]:
        """What the answer cites: one per passage the prompt was grounded in."""
        return [
            Citation.model_validate(hit.model_dump(exclude={"heading_path", "vector_similarity", "lexical_score"}))
            for hit in self.hits
        ]


NO_DOCUMENTS = Grounding(has_documents=False, hits=(), pending=())  # a chat with nothing to search


def source_link(document: Document, page: int | None, start_seconds: float | None) -> str | None:
    """Where a user can open the cited place: the PDF page, the video moment, the web page."""
    if document.kind == SourceKind.YOUTUBE and document.source_url:
        seconds = int(start_seconds or 0)
        return f"{document.source_url}&t={seconds}s"
    if document.kind == SourceKind.WEB:
        return document.source_url
    link = f"/api/v1/documents/{document.id}/file"
    if page is not None and (document.media_type or "").endswith("pdf"):
        link += f"#page={page}"
    return link


async def _search(
    state: AppState, documents: Sequence[Document], query: str, *, k: int, mode: Mode
) -> list[SearchHitOut]:
    ready = {d.id: d for d in documents if d.status == DocumentStatus.READY or d.chunks_done}
    if not ready:
        return []
    knowledge = state.settings.knowledge
    vector = await asyncio.to_thread(state.embedder.embed_query, query)
    async with state.database.transaction() as db:
        hits = await retrieval.search(
            db,
            query,
            vector,
            list(ready),
            mode=mode,
            top_k=k,
            candidates=knowledge.candidates,
            vector_weight=knowledge.vector_weight,
            text_search_config=knowledge.text_search_config,
        )
    out = []
    for hit in hits:
        document = ready[hit.document_id]
        out.append(
            SearchHitOut(
                document_id=document.id,
                document_name=document.name,
                page=hit.page_start,
                page_end=hit.page_end,
                start_seconds=hit.start_seconds,
                url=source_link(document, hit.page_start, hit.start_seconds),
                snippet=hit.text[:SNIPPET_CHARS],
                char_start=hit.char_start,
                char_end=hit.char_end,
                score=round(hit.score, 6),
                heading_path=hit.heading_path,
                vector_similarity=hit.vector_similarity,
                lexical_score=hit.lexical_score,
            )
        )
    return out


async def documents_in_scope(db: AsyncSession, session_id: uuid.UUID, chat_id: uuid.UUID | None) -> list[Document]:
    """The documents a chat answers from: its selection, else the whole session library."""
    return list(await DocumentRepository(db).in_scope(session_id, chat_id))


async def search_hits(
    state: AppState,
    session_id: uuid.UUID,
    chat_id: uuid.UUID | None,
    query: str,
    *,
    k: int,
    mode: Mode,
) -> list[SearchHitOut]:
    """Search the chat's documents (or the session library)."""
    async with state.database.transaction() as db:
        if chat_id is not None:
            from nimbus.chat import service as chat_service

            await chat_service.owned_chat(db, chat_id, session_id)
        documents = await documents_in_scope(db, session_id, chat_id)
    return await _search(state, documents, query, k=k, mode=mode)


async def ground(state: AppState, documents: Sequence[Document], question: str) -> Grounding:
    """Passages of `documents` relevant enough to answer `question` from, and which are not ready yet.

    Call it outside any transaction: it embeds the question first, then searches in a transaction of its own.
    """
    if not documents:
        return NO_DOCUMENTS
    knowledge = state.settings.knowledge
    hits = await _search(state, documents, question, k=knowledge.top_k, mode="hybrid")
    relevant = [h for h in hits if (h.vector_similarity or 0.0) >= knowledge.min_similarity]
    pending = [d for d in documents if d.status in IN_PROGRESS]
    return Grounding(has_documents=True, hits=relevant, pending=pending)
