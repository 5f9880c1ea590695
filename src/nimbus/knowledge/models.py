"""The `document`, `chat_document`, `chunk` and `chunk_term` tables."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.db.base import Base, utcnow

EMBEDDING_DIMENSIONS = 384


class DocumentStatus(enum.StrEnum):
    QUEUED = "queued"
    PARSING = "parsing"
    EMBEDDING = "embedding"
    READY = "ready"
    NO_TEXT = "no_text"
    FAILED = "failed"
    CANCELLED = "cancelled"


IN_PROGRESS = (DocumentStatus.QUEUED, DocumentStatus.PARSING, DocumentStatus.EMBEDDING)


class SourceKind(enum.StrEnum):
    FILE = "file"
    YOUTUBE = "youtube"
    WEB = "web"


class Document(Base):
    """A file, video or web page of one session, and the state of its ingestion job."""

    __tablename__ = "document"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16))
    source_url: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str | None] = mapped_column(String(200))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    blob_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=DocumentStatus.QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    pages_total: Mapped[int | None] = mapped_column(Integer)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    chunks_total: Mapped[int | None] = mapped_column(Integer)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    # Sum of the lexical lengths of the document's chunks (BM25's average document length).
    lexical_length: Mapped[int] = mapped_column(BigInteger, default=0)
    timings: Mapped[dict[str, float]] = mapped_column(JSONB, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_document_session_id_created_at", "session_id", "created_at"),
        Index("ix_document_status", "status"),
        CheckConstraint(
            "status IN ('queued', 'parsing', 'embedding', 'ready', 'no_text', 'failed', 'cancelled')", name="status"
        ),
        CheckConstraint("kind IN ('file', 'youtube', 'web')", name="kind"),
    )


class ChatDocument(Base):
    """Which documents a chat answers from (none: the whole session library)."""

    __tablename__ = "chat_document"

    chat_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_chat_document_document_id", "document_id"),)


class Chunk(Base):
    """A passage of a document with where it came from and its embedding."""

    __tablename__ = "chunk"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    page_start: Mapped[int | None] = mapped_column(Integer)
    page_end: Mapped[int | None] = mapped_column(Integer)
    start_seconds: Mapped[float | None] = mapped_column(Float)
    end_seconds: Mapped[float | None] = mapped_column(Float)
    heading_path: Mapped[str | None] = mapped_column(Text)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    token_count: Mapped[int] = mapped_column(Integer)
    lexical_length: Mapped[int] = mapped_column(Integer, default=0)
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIMENSIONS))

    __table_args__ = (
        # A job that restarts re-inserts the same ordinals: duplicates are impossible by construction.
        UniqueConstraint("document_id", "ordinal", name="uq_chunk_document_id_ordinal"),
        Index(
            "ix_chunk_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )


class ChunkTerm(Base):
    """One posting of the lexical index: a stemmed term, the chunk it occurs in and how often (BM25).

    `document_id` repeats the chunk's document so scoped lookups are index range scans; it has no foreign key
    of its own (the chunk's cascades postings away), which keeps deleting a document from scanning them all.
    """

    __tablename__ = "chunk_term"

    term: Mapped[str] = mapped_column(Text)
    document_id: Mapped[uuid.UUID]
    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunk.id", ondelete="CASCADE"))
    tf: Mapped[int] = mapped_column(SmallInteger)
    chunk_length: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        PrimaryKeyConstraint(
            "term", "document_id", "chunk_id", name="pk_chunk_term", postgresql_include=["tf", "chunk_length"]
        ),
        Index("ix_chunk_term_chunk_id", "chunk_id"),
    )


class DocumentTerm(Base):
    """How many of a document's chunks contain a term: BM25's document frequency over any set of documents
    is the sum of these rows, a few index lookups instead of counting postings.

    Kept equal to `chunk_term` grouped by (term, document) by triggers on `chunk_term` (migration 0004), so
    every way postings are written or removed (indexing, restart, deletion, cascades) keeps it exact.
    """

    __tablename__ = "document_term"

    term: Mapped[str] = mapped_column(Text)
    document_id: Mapped[uuid.UUID]
    df: Mapped[int] = mapped_column(Integer)

    __table_args__ = (PrimaryKeyConstraint("term", "document_id", name="pk_document_term", postgresql_include=["df"]),)
