"""What the Nimbus API returns, as frozen dataclasses, and the parsers that build them from JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ui.api_errors import JsonObject

DocumentStatus = Literal["queued", "parsing", "embedding", "ready", "no_text", "failed", "cancelled"]
IN_PROGRESS: frozenset[str] = frozenset({"queued", "parsing", "embedding"})


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class ModelInfo:
    provider: str
    model: str
    ready: bool
    detail: str


@dataclass(frozen=True)
class Chat:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ChatPage:
    items: list[Chat]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class Citation:
    """Where an answer came from: a document, its page or moment, a link, and the quoted passage."""

    document_id: str
    document_name: str
    page: int | None
    page_end: int | None
    start_seconds: float | None
    url: str | None
    snippet: str
    char_start: int
    char_end: int
    score: float


@dataclass(frozen=True)
class Message:
    id: str
    role: Literal["user", "assistant"]
    content: str
    status: Literal["complete", "streaming", "interrupted", "error"]
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    error: str | None
    created_at: datetime
    citations: list[Citation]


@dataclass(frozen=True)
class ChatDetail:
    chat: Chat
    messages: list[Message]


@dataclass(frozen=True)
class Document:
    """A file, video or web page of the session, and how far its indexing has got."""

    id: str
    name: str
    kind: str
    source_url: str | None
    media_type: str | None
    size_bytes: int | None
    status: DocumentStatus
    progress: float
    pages: int | None
    pages_done: int
    chunks: int
    error: str | None
    timings: dict[str, float]
    duplicate: bool
    created_at: datetime
    finished_at: datetime | None

    @property
    def in_progress(self) -> bool:
        """Still queued or being indexed."""
        return self.status in IN_PROGRESS

    @property
    def settled(self) -> bool:
        """Will not change by itself any more (a cancelled document is still to be removed by its job)."""
        return not self.in_progress and self.status != "cancelled"


@dataclass(frozen=True)
class DocumentPage:
    items: list[Document]
    total: int


def parse_chat(data: JsonObject) -> Chat:
    """A chat from its JSON."""
    return Chat(
        id=str(data["id"]),
        name=str(data["name"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )


def parse_citation(data: JsonObject) -> Citation:
    """A citation from its JSON."""
    start = data.get("start_seconds")
    return Citation(
        document_id=str(data["document_id"]),
        document_name=str(data["document_name"]),
        page=_optional_int(data.get("page")),
        page_end=_optional_int(data.get("page_end")),
        start_seconds=None if start is None else float(start),
        url=data.get("url"),
        snippet=str(data["snippet"]),
        char_start=int(data["char_start"]),
        char_end=int(data["char_end"]),
        score=float(data["score"]),
    )


def parse_message(data: JsonObject) -> Message:
    """A stored message from its JSON (older servers send no citations)."""
    return Message(
        id=str(data["id"]),
        role=data["role"],
        content=str(data["content"]),
        status=data["status"],
        model=data.get("model"),
        prompt_tokens=data.get("prompt_tokens"),
        completion_tokens=data.get("completion_tokens"),
        error=data.get("error"),
        created_at=datetime.fromisoformat(data["created_at"]),
        citations=[parse_citation(c) for c in data.get("citations") or []],
    )


def parse_document(data: JsonObject) -> Document:
    """A document from its JSON."""
    finished = data.get("finished_at")
    return Document(
        id=str(data["id"]),
        name=str(data["name"]),
        kind=str(data["kind"]),
        source_url=data.get("source_url"),
        media_type=data.get("media_type"),
        size_bytes=_optional_int(data.get("size_bytes")),
        status=data["status"],
        progress=min(1.0, max(0.0, float(data["progress"]))),
        pages=_optional_int(data.get("pages")),
        pages_done=int(data["pages_done"]),
        chunks=int(data["chunks"]),
        error=data.get("error"),
        timings={str(k): float(v) for k, v in (data.get("timings") or {}).items()},
        duplicate=bool(data.get("duplicate", False)),
        created_at=datetime.fromisoformat(data["created_at"]),
        finished_at=None if finished is None else datetime.fromisoformat(finished),
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
