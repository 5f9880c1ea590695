"""Wire format of documents and search."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class DocumentOut(BaseModel):
    """A document and the state of its ingestion."""

    id: uuid.UUID
    name: str
    kind: str
    source_url: str | None
    media_type: str | None
    size_bytes: int | None
    status: str
    progress: float = Field(ge=0, le=1, description="0 to 1: share of the document indexed so far.")
    pages: int | None = Field(description="Pages of a PDF.")
    pages_done: int
    chunks: int
    error: str | None
    timings: dict[str, float]
    duplicate: bool = Field(default=False, description="True when this upload matched an existing document.")
    created_at: datetime
    finished_at: datetime | None


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    total: int


class LinkIn(BaseModel):
    url: str = Field(min_length=1, max_length=2048)
    chat_id: uuid.UUID | None = None


class ChatDocumentsIn(BaseModel):
    document_ids: list[uuid.UUID] = Field(max_length=1000)


class ChatDocumentsOut(BaseModel):
    document_ids: list[uuid.UUID]


class Citation(BaseModel):
    """Where an answer came from: document, page or moment, a link, and the quoted passage."""

    document_id: uuid.UUID
    document_name: str
    page: int | None = None
    page_end: int | None = None
    start_seconds: float | None = None
    url: str | None = None
    snippet: str
    char_start: int
    char_end: int
    score: float


class SearchHitOut(Citation):
    heading_path: str | None = None
    vector_similarity: float | None = None
    lexical_score: float | None = None


class SearchOut(BaseModel):
    query: str
    mode: Literal["hybrid", "vector", "lexical"]
    hits: list[SearchHitOut]
