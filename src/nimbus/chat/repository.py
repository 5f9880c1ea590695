"""Queries on chats and messages, always scoped to the owning session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.chat.models import Chat, Message, MessageRole, MessageStatus


class ChatRepository:
    """Typed access to chats and their messages."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get_owned(self, chat_id: uuid.UUID, session_id: uuid.UUID) -> Chat | None:
        """The chat if it belongs to this session, else None."""
        return await self.db.scalar(select(Chat).where(Chat.id == chat_id, Chat.session_id == session_id))

    async def list_for_session(self, session_id: uuid.UUID, limit: int, offset: int) -> Sequence[Chat]:
        """A page of the session's chats, most recently updated first."""
        query = (
            select(Chat)
            .where(Chat.session_id == session_id)
            .order_by(Chat.updated_at.desc(), Chat.id)
            .limit(limit)
            .offset(offset)
        )
        return (await self.db.scalars(query)).all()

    async def count_for_session(self, session_id: uuid.UUID) -> int:
        """How many chats the session has."""
        return await self.db.scalar(select(func.count()).where(Chat.session_id == session_id)) or 0

    async def add(self, item: Chat | Message) -> None:
        """Insert a chat or a message."""
        self.db.add(item)
        await self.db.flush()

    async def delete(self, chat: Chat) -> None:
        """Delete a chat; its messages cascade."""
        await self.db.delete(chat)
        await self.db.flush()

    async def messages(self, chat_id: uuid.UUID) -> Sequence[Message]:
        """All messages of a chat, oldest first."""
        query = select(Message).where(Message.chat_id == chat_id).order_by(Message.seq)
        return (await self.db.scalars(query)).all()

    async def recent_messages(self, chat_id: uuid.UUID, limit: int) -> list[Message]:
        """The newest `limit` messages of a chat, oldest first."""
        query = select(Message).where(Message.chat_id == chat_id).order_by(Message.seq.desc()).limit(limit)
        return list(reversed((await self.db.scalars(query)).all()))

    async def get_message(self, message_id: uuid.UUID) -> Message | None:
        """One message by id."""
        return await self.db.get(Message, message_id)

    async def count_user_messages(self, session_id: uuid.UUID) -> int:
        """How many questions the session has asked, across chats."""
        query = (
            select(func.count())
            .select_from(Message)
            .join(Chat, Chat.id == Message.chat_id)
            .where(Chat.session_id == session_id, Message.role == MessageRole.USER)
        )
        return await self.db.scalar(query) or 0

    async def questions_and_answers(
        self, session_id: uuid.UUID, limit: int, offset: int
    ) -> Sequence[tuple[Message, Message | None]]:
        """The session's questions (newest first) each with the answer that followed it."""
        answer = select(Message).where(Message.role == MessageRole.ASSISTANT).subquery()
        next_answer = (
            select(func.min(answer.c.seq))
            .where(answer.c.chat_id == Message.chat_id, answer.c.seq > Message.seq)
            .correlate(Message)
            .scalar_subquery()
        )
        questions = (
            select(Message, next_answer.label("answer_seq"))
            .join(Chat, Chat.id == Message.chat_id)
            .where(Chat.session_id == session_id, Message.role == MessageRole.USER)
            .order_by(Message.seq.desc())
            .limit(limit)
            .offset(offset)
        )
        rows = (await self.db.execute(questions)).all()
        seqs = [row.answer_seq for row in rows if row.answer_seq is not None]
        answers: dict[int, Message] = {}
        if seqs:
            found = await self.db.scalars(select(Message).where(Message.seq.in_(seqs)))
            answers = {message.seq: message for message in found}
        return [(row[0], answers.get(row.answer_seq)) for row in rows]


async def interrupt_stale_answers(db: AsyncSession, started_before: datetime) -> int:
    """Mark answers still `streaming` since before `started_before` as interrupted (their server died)."""
    result = await db.execute(
        update(Message)
        .where(Message.status == MessageStatus.STREAMING, Message.created_at < started_before)
        .values(status=MessageStatus.INTERRUPTED, error="The server stopped while this answer was being written.")
        .returning(Message.id)
    )
    return len(result.all())
