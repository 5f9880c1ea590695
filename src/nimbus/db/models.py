"""Every ORM model, imported so the metadata is complete (for Alembic and tests)."""

from __future__ import annotations

from nimbus.chat.models import Chat, Message
from nimbus.db.base import Base
from nimbus.knowledge.models import ChatDocument, Chunk, ChunkTerm, Document
from nimbus.sessions.models import Session

metadata = Base.metadata

__all__ = ["Chat", "ChatDocument", "Chunk", "ChunkTerm", "Document", "Message", "Session", "metadata"]
