"""Values passed along the ingestion pipeline: loader → chunker → embedder → index."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from nimbus.errors import NimbusError


@dataclass(frozen=True, slots=True)
class Section:
    """A run of source text and where it sits: a PDF page, a transcript span, a heading path."""

    text: str
    page: int | None = None  # 1-based page of a PDF
    start_seconds: float | None = None  # transcript snippet start
    end_seconds: float | None = None
    heading_path: str | None = None  # e.g. "Part 2 > Risk assessment"


@dataclass(slots=True)
class ParsedSource:
    """What a loader found: its type, title, page count (PDF) and the sections, produced lazily."""

    media_type: str
    sections: Iterator[Section]
    title: str | None = None
    total_pages: int | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    """A chunk before embedding. Offsets index the document text: its sections joined by a blank line."""

    ordinal: int
    text: str
    token_count: int
    char_start: int
    char_end: int
    page_start: int | None = None
    page_end: int | None = None
    start_seconds: float | None = None
    end_seconds: float | None = None
    heading_path: str | None = None


class SourceError(NimbusError):
    """The source cannot be ingested; the message says why in words a user understands."""

    status_code = 422
    code = "source_error"
    default_message = "The source could not be read."


class NoTextError(SourceError):
    """The source has no extractable text (e.g. a scanned PDF without a text layer)."""

    code = "no_text"
    default_message = "No extractable text was found (a scanned document without a text layer?)."


@runtime_checkable
class Tokenizer(Protocol):
    """The embedder's tokenizer, as the chunker needs it."""

    def token_offsets(self, text: str) -> Sequence[tuple[int, int]]:
        """Character (start, end) of each token of `text`, without special tokens."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors; blocking (call from a worker thread)."""

    @property
    def name(self) -> str:
        """Model identifier, stored with the index."""
        ...

    @property
    def dimensions(self) -> int:
        """Length of every vector."""
        ...

    @property
    def max_tokens(self) -> int:
        """Longest input the model reads; the chunker keeps chunks within it."""
        ...

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer (token-aware chunking)."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors of passages, in order."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Vector of a search query."""
        ...

    def load(self) -> None:
        """Get ready to embed now rather than on first use (idempotent)."""
        ...

    def close(self) -> None:
        """Release clients and connections."""
        ...
