"""Queries on the `session` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from nimbus.sessions.models import Session


class SessionRepository:
    """Typed access to sessions."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get_by_token_hash(self, token_hash: str) -> Session | None:
        """The session with this token hash, expired or not."""
        return await self.db.scalar(select(Session).where(Session.token_hash == token_hash))

    async def add(self, session: Session) -> Session:
        """Insert a new session."""
        self.db.add(session)
        await self.db.flush()
        return session

    async def delete(self, session: Session) -> None:
        """Delete one session (its chats and messages cascade)."""
        await self.db.delete(session)
        await self.db.flush()

    async def delete_expired(self, now: datetime) -> int:
        """Delete every session that expired before `now`; returns how many."""
        result = await self.db.execute(delete(Session).where(Session.expires_at <= now).returning(Session.id))
        return len(result.all())
