"""Chat management: create, list, read, rename, delete, export."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.chat.errors import ChatNotFound
from nimbus.chat.models import Chat, Message
from nimbus.chat.repository import ChatRepository
from nimbus.chat.schemas import ChatDetail, ExportFormat, MessageOut
from nimbus.db.base import utcnow

DEFAULT_NAME = "New chat"


async def owned_chat(db: AsyncSession, chat_id: uuid.UUID, session_id: uuid.UUID) -> Chat:
    """The chat if this session owns it; ChatNotFound otherwise (also for other sessions' chats)."""
    chat = await ChatRepository(db).get_owned(chat_id, session_id)
    if chat is None:
        raise ChatNotFound
    return chat


async def create_chat(db: AsyncSession, session_id: uuid.UUID, name: str | None) -> Chat:
    """Start a chat; unnamed chats are named after their first message."""
    now = utcnow()
    named = bool(name and name.strip())
    chat = Chat(
        session_id=session_id,
        name=name.strip() if name and named else DEFAULT_NAME,
        named_by_user=named,
        created_at=now,
        updated_at=now,
    )
    await ChatRepository(db).add(chat)
    return chat


@dataclass(frozen=True, slots=True)
class ChatPage:
    items: Sequence[Chat]
    total: int


async def list_chats(db: AsyncSession, session_id: uuid.UUID, limit: int, offset: int) -> ChatPage:
    """One page of the session's chats, most recent first, and how many there are in all."""
    repository = ChatRepository(db)
    items = await repository.list_for_session(session_id, limit, offset)
    return ChatPage(items=items, total=await repository.count_for_session(session_id))


async def chat_detail(db: AsyncSession, chat: Chat) -> ChatDetail:
    """The chat with all its messages."""
    messages = await ChatRepository(db).messages(chat.id)
    return ChatDetail(
        id=chat.id,
        name=chat.name,
        created_at=chat.created_at,
        updated_at=chat.updated_at,
        messages=[MessageOut.model_validate(m) for m in messages],
    )


async def rename_chat(db: AsyncSession, chat: Chat, name: str) -> Chat:
    """Give the chat a name of the user's choosing (auto-naming stops)."""
    chat.name = name
    chat.named_by_user = True
    chat.updated_at = utcnow()
    await db.flush()
    return chat


async def delete_chat(db: AsyncSession, chat: Chat) -> None:
    """Delete the chat and its messages."""
    await ChatRepository(db).delete(chat)


async def export_chat(db: AsyncSession, chat: Chat, fmt: ExportFormat) -> str:
    """The whole chat as Markdown or JSON text."""
    detail = await chat_detail(db, chat)
    if fmt is ExportFormat.JSON:
        return json.dumps(detail.model_dump(mode="json"), ensure_ascii=False, indent=2)
    return render_markdown(detail.name, detail.messages)


def render_markdown(name: str, messages: Sequence[MessageOut | Message]) -> str:
    """A readable transcript: one section per message, with the outcome of failed answers."""
    lines = [f"# {name}", ""]
    for message in messages:
        who = "You" if message.role == "user" else f"Nimbus ({message.model or 'assistant'})"
        stamp = message.created_at.strftime("%Y-%m-%d %H:%M UTC")
        lines += [f"## {who} — {stamp}", "", message.content or "_(no text)_", ""]
        if message.status != "complete":
            note = f" — {message.error}" if message.error else ""
            lines += [f"> status: {message.status}{note}", ""]
    return "\n".join(lines).rstrip() + "\n"
